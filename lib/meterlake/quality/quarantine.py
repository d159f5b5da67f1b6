"""Row rules applied: staging rows split into valid rows and `bronze.quarantine` rows, each
quarantined row with its raw text, file, line, field and every reason."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructType

from meterlake.core.contracts import APPEND_ONLY, LINEAGE_FIELDS, TableContract, struct_field
from meterlake.core.rules import RowRule
from meterlake.core.table_description import EVERY_LANDING

QUARANTINE = TableContract(
    layer="bronze",
    name="quarantine",
    schema=StructType([
        struct_field("source", StringType(), False, "the source the line was delivered to"),
        *LINEAGE_FIELDS,
        struct_field("raw_line", StringType(), True,
                     "the raw text of the rejected line, record or payload"),
        struct_field("field", StringType(), False, "the field of the first rule it breaks"),
        struct_field("reason", StringType(), False,
                     "every rule it breaks, each as `field: message` quoting the raw value"),
    ]),
    grain="one row per rejected line of a loaded file, with the raw text and why",
    partition_by=("source",),
    properties=APPEND_ONLY,
    fed_by=(EVERY_LANDING,),
)


def with_violations(staging_df: DataFrame, rules: tuple[RowRule, ...]) -> DataFrame:
    """Adds `violations`: an array of (field, message) for every rule the row breaks."""
    broken = [F.coalesce(rule.is_violated(), F.lit(False)) for rule in rules]
    checks = [
        F.when(is_broken, F.struct(
            F.lit(rule.field).alias("field"), rule.message().alias("message")
        ))
        for rule, is_broken in zip(rules, broken, strict=True)
    ]
    found = F.filter(F.array(*checks), lambda v: v.isNotNull())
    # Almost every row is valid: a plain boolean (code-generated) decides that, and the array
    # with its lambda (interpreted, row by row) is built only for the rows that break a rule.
    none_found = F.array_repeat(F.struct(F.lit("").alias("field"), F.lit("").alias("message")), 0)
    is_broken_any = F.lit(False)
    for is_broken in broken:
        is_broken_any = is_broken_any | is_broken
    return staging_df.withColumn("violations", F.when(is_broken_any, found).otherwise(none_found))


def filter_valid(checked_df: DataFrame) -> DataFrame:
    """Rows that broke no rule (input from `with_violations`)."""
    return checked_df.filter(F.size("violations") == 0).drop("violations")


def to_quarantine_rows(checked_df: DataFrame, source: str) -> DataFrame:
    """Rows that broke a rule, as `bronze.quarantine` rows: the first field, every reason."""
    messages = F.transform("violations", lambda v: F.concat(v["field"], F.lit(": "), v["message"]))
    return (
        checked_df.filter(F.size("violations") > 0)
        .withColumn("source", F.lit(source))
        .withColumn("field", F.col("violations")[0]["field"])
        .withColumn("reason", F.array_join(messages, "; "))
        .select(*QUARANTINE.column_names)
    )
