-- The inputs and versions of one settlement run, from its ops.report_runs row: when it ran,
-- what the lake knew (as_known_at), the silver.meter_readings version it read and the bronze
-- version per meter source that silver version reflects, the book's sha256, the code version,
-- and the rows and sha256 of each export. What `meterlake audit runs` lists and the run's
-- manifest.json holds.
--
-- Grain: one row per run (none for an unknown run id).
-- With the versions, the run's readings are
--   SELECT * FROM silver.meter_readings VERSION AS OF <silver_version>
-- while time travel keeps that version; bronze is never vacuumed, so the latest version per
-- key of bronze.utility_drops VERSION AS OF <utility_drops_bronze_version> (and of bronze.smrt)
-- gives them always. sql/readings_as_known_at.sql at as_known_at gives the same rows unless a
-- file received before as_known_at reached bronze in a later version than the recorded one.
--
-- Parameters: replace each ${...} below with a SQL literal (Spark SQL does it itself after
-- `SET name=literal;`):
--   ${run_id}  the run: '498a441275454ef5b2f3c68b9e8f4cea'
--
-- Spark SQL (get_json_object, paths with single quotes); sql/settlement_run_inputs.trino.sql
-- is the same query for Trino, with json_extract_scalar. Bronze versions are NULL for a source
-- never snapshotted; a new meter source needs a column here.
SELECT
    run_id,
    partner,
    month,
    revision,
    report,
    started_at,
    finished_at,
    as_known_at,
    CAST(get_json_object(inputs, '$.silver_version') AS BIGINT) AS silver_version,
    CAST(get_json_object(inputs, '$.silver_committed_at') AS TIMESTAMP) AS silver_committed_at,
    CAST(get_json_object(inputs, '$.bronze_versions.utility_drops') AS BIGINT)
        AS utility_drops_bronze_version,
    CAST(get_json_object(inputs, '$.bronze_versions.smrt') AS BIGINT) AS smrt_bronze_version,
    book_sha256,
    code_version,
    CAST(get_json_object(row_counts, '$.lines') AS BIGINT) AS lines_rows,
    CAST(get_json_object(row_counts, '$.summary') AS BIGINT) AS summary_rows,
    get_json_object(outputs, '$[\'lines.csv\'].sha256') AS lines_csv_sha256,
    get_json_object(outputs, '$[\'lines.parquet\'].sha256') AS lines_parquet_sha256,
    get_json_object(outputs, '$[\'summary.csv\'].sha256') AS summary_csv_sha256,
    get_json_object(outputs, '$[\'summary.parquet\'].sha256') AS summary_parquet_sha256,
    export_path
FROM ops.report_runs
WHERE run_id = ${run_id}
