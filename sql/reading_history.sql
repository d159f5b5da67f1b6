-- The history of one reading: every version of (meter_id, interval_start) that bronze holds,
-- oldest first, with the file and line that brought it, when it arrived, the landed file, and
-- which version is current. What `meterlake audit history` prints
-- (meterlake.audit.readings.reading_history).
--
-- Grain: one row per bronze version of the reading; no row when bronze never held it.
-- "Current" follows each source's own order, as silver does: utility drops by arrival
-- (_received_at, then _source_line, then _ingest_id); SMRT by the header's creation time,
-- then generation number, then arrival. The current version is the row of
-- silver.meter_readings.
--
-- Parameters: replace each ${...} below with a SQL literal (Spark SQL does it itself after
-- `SET name=literal;`):
--   ${meter_id}        the meter: 'M1'
--   ${interval_start}  the interval's start: TIMESTAMP '2020-06-03 12:00:00 UTC'
--
-- The same text runs in Trino (catalog `lake`: `trino --catalog lake`) and in Spark SQL (the
-- tables registered by meterlake as bronze.*, ops.*; session time zone UTC, as meterlake
-- sets it). Reads one interval_date partition of each meter source's bronze table.
WITH versions AS (
    SELECT
        meter_id,
        interval_start,
        energy_wh AS value,
        'utility_drops' AS source,
        _source_file,
        _source_line,
        _received_at,
        _ingest_id,
        _file_sha256,
        ROW_NUMBER() OVER (
            PARTITION BY meter_id, interval_start
            ORDER BY _received_at DESC, _source_line DESC, _ingest_id DESC
        ) = 1 AS is_current
    FROM bronze.utility_drops
    WHERE interval_date = CAST(${interval_start} AS DATE)
        AND meter_id = ${meter_id}
        AND interval_start = ${interval_start}
    UNION ALL
    SELECT
        meter_id,
        interval_start,
        consumption AS value,
        'smrt' AS source,
        _source_file,
        _source_line,
        _received_at,
        _ingest_id,
        _file_sha256,
        ROW_NUMBER() OVER (
            PARTITION BY meter_id, interval_start
            ORDER BY file_created_at DESC, generation_number DESC, _received_at DESC,
                _source_line DESC, _ingest_id DESC
        ) = 1 AS is_current
    FROM bronze.smrt
    WHERE interval_date = CAST(${interval_start} AS DATE)
        AND meter_id = ${meter_id}
        AND interval_start = ${interval_start}
)
SELECT
    v.meter_id,
    v.interval_start,
    v.value,
    v.source,
    v._source_file,
    v._source_line,
    v._received_at,
    v._ingest_id,
    v._file_sha256,
    log.landing_path,
    v.is_current
FROM versions AS v
LEFT JOIN ops.ingest_log AS log
    ON log.ingest_id = v._ingest_id
ORDER BY v._received_at, v._source_line
