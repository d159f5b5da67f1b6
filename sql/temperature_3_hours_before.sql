-- For every region and hour: the mean temperature at that hour and 3 hours before.
--
-- Reads `region_temperature_hourly` with the partner spec's column names (hour, region,
-- temperature; `assignment` is box or polygon): the table `meterlake publish` writes into
-- MariaDB/MySQL, PostgreSQL and SQLite, or a view of gold.region_temperature_hourly in Spark
-- SQL. The earlier hour is found by its time (hour - 3 hours), not by a row offset such as
-- LAG over rows: when an hour is missing, "3 rows before" would be another hour. Where the
-- region has no data 3 hours before, temperature_3_hours_before is NULL.
-- Portable as written: MariaDB, MySQL, PostgreSQL and Spark SQL (tested on MariaDB and Spark).
SELECT
    cur.assignment,
    cur.region,
    cur.hour,
    cur.temperature,
    prev.temperature AS temperature_3_hours_before
FROM region_temperature_hourly AS cur
LEFT JOIN region_temperature_hourly AS prev
    ON prev.assignment = cur.assignment
    AND prev.region = cur.region
    AND prev.hour = cur.hour - INTERVAL '3' HOUR
ORDER BY cur.assignment, cur.region, cur.hour
