-- silver.meter_readings as it was known at an instant, rebuilt from bronze alone: per
-- (meter_id, interval_start), the latest version among those received at or before the
-- instant, with the number of such versions. What `meterlake audit as-known-at` gives
-- (meterlake.audit.readings.as_known_at). Unlike time travel (FOR VERSION/TIMESTAMP AS OF)
-- it needs no Delta log or files of old silver versions: bronze keeps every version forever.
--
-- Grain: one row per (meter_id, interval_start) known at the instant; the columns of
-- silver.meter_readings, in its order.
-- "Latest" follows each source's own order, as silver does: utility drops by arrival
-- (_received_at, then _source_line, then _ingest_id); SMRT by the header's creation time,
-- then generation number, then arrival (a file received later may still lose).
--
-- Parameters: replace each ${...} below with a SQL literal (Spark SQL does it itself after
-- `SET name=literal;`):
--   ${known_at}  the instant: TIMESTAMP '2020-06-10 08:00:00 UTC' (a version received exactly
--                then counts as known)
--   ${meter_id}  one meter: 'M1', or NULL for every meter
--
-- The same text runs in Trino (catalog `lake`: `trino --catalog lake`) and in Spark SQL (the
-- tables registered by meterlake as bronze.*; session time zone UTC, as meterlake sets it).
-- Reads every partition of each meter source's bronze table (one meter: the files whose
-- meter_id statistics may hold it).
WITH known AS (
    SELECT
        meter_id,
        interval_start,
        interval_date,
        energy_wh AS value,
        'Wh' AS unit,
        'electricity' AS commodity,
        15 AS interval_minutes,
        'utility_drops' AS source,
        _ingest_id,
        _source_file,
        _source_line,
        _received_at,
        _file_sha256,
        ROW_NUMBER() OVER (
            PARTITION BY meter_id, interval_start
            ORDER BY _received_at DESC, _source_line DESC, _ingest_id DESC
        ) AS newest_first,
        COUNT(*) OVER (
            PARTITION BY meter_id, interval_start
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) AS version_count
    FROM bronze.utility_drops
    WHERE _received_at <= ${known_at}
        AND (${meter_id} IS NULL OR meter_id = ${meter_id})
    UNION ALL
    SELECT
        meter_id,
        interval_start,
        interval_date,
        consumption AS value,
        'kWh' AS unit,
        'gas' AS commodity,
        60 AS interval_minutes,
        'smrt' AS source,
        _ingest_id,
        _source_file,
        _source_line,
        _received_at,
        _file_sha256,
        ROW_NUMBER() OVER (
            PARTITION BY meter_id, interval_start
            ORDER BY file_created_at DESC, generation_number DESC, _received_at DESC,
                _source_line DESC, _ingest_id DESC
        ) AS newest_first,
        COUNT(*) OVER (
            PARTITION BY meter_id, interval_start
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) AS version_count
    FROM bronze.smrt
    WHERE _received_at <= ${known_at}
        AND (${meter_id} IS NULL OR meter_id = ${meter_id})
)
SELECT
    meter_id,
    interval_start,
    interval_date,
    value,
    unit,
    commodity,
    interval_minutes,
    source,
    version_count,
    _ingest_id,
    _source_file,
    _source_line,
    _received_at,
    _file_sha256
FROM known
WHERE newest_first = 1
ORDER BY meter_id, interval_start
