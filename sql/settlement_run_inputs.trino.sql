-- The inputs and versions of one settlement run, from its ops.report_runs row: when it ran,
-- what the lake knew (as_known_at), the silver.meter_readings version it read and the bronze
-- version per meter source that silver version reflects, the book's sha256, the code version,
-- and the rows and sha256 of each export. What `meterlake audit runs` lists and the run's
-- manifest.json holds.
--
-- Grain: one row per run (none for an unknown run id).
-- With the versions, the run's readings are
--   SELECT * FROM silver.meter_readings FOR VERSION AS OF <silver_version>
-- while time travel keeps that version; bronze is never vacuumed, so the latest version per
-- key of bronze.utility_drops FOR VERSION AS OF <utility_drops_bronze_version> (and of bronze.smrt)
-- gives them always. sql/readings_as_known_at.sql at as_known_at gives the same rows unless a
-- file received before as_known_at reached bronze in a later version than the recorded one.
--
-- Parameters: replace each ${...} below with a SQL literal (the Trino CLI has no variables:
-- fill them in first, e.g. with sed):
--   ${run_id}  the run: '498a441275454ef5b2f3c68b9e8f4cea'
--
-- Trino (catalog `lake`: `trino --catalog lake`), with json_extract_scalar and paths with
-- double quotes; sql/settlement_run_inputs.spark.sql is the same query for Spark SQL. Bronze
-- versions are NULL for a source never snapshotted; a new meter source needs a column here.
SELECT
    run_id,
    partner,
    month,
    revision,
    report,
    started_at,
    finished_at,
    as_known_at,
    CAST(json_extract_scalar(inputs, '$.silver_version') AS BIGINT) AS silver_version,
    CAST(json_extract_scalar(inputs, '$.silver_committed_at') AS TIMESTAMP(3) WITH TIME ZONE)
        AS silver_committed_at,
    CAST(json_extract_scalar(inputs, '$.bronze_versions.utility_drops') AS BIGINT)
        AS utility_drops_bronze_version,
    CAST(json_extract_scalar(inputs, '$.bronze_versions.smrt') AS BIGINT)
        AS smrt_bronze_version,
    book_sha256,
    code_version,
    CAST(json_extract_scalar(row_counts, '$.lines') AS BIGINT) AS lines_rows,
    CAST(json_extract_scalar(row_counts, '$.summary') AS BIGINT) AS summary_rows,
    json_extract_scalar(outputs, '$["lines.csv"].sha256') AS lines_csv_sha256,
    json_extract_scalar(outputs, '$["lines.parquet"].sha256') AS lines_parquet_sha256,
    json_extract_scalar(outputs, '$["summary.csv"].sha256') AS summary_csv_sha256,
    json_extract_scalar(outputs, '$["summary.parquet"].sha256') AS summary_parquet_sha256,
    export_path
FROM ops.report_runs
WHERE run_id = ${run_id}
