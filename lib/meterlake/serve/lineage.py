"""OpenLineage run events of the lake's jobs, written as files (openlineage-python's
FileTransport) for Marquez, DataHub or any other OpenLineage consumer to load.

A job run through the CLI (`meterlake ingest`, `snapshot`, `grid`, `settle`, `optimize`,
`sensors registry`, `pipeline`, `watch`, ...) emits START when it first takes a table for
writing, then COMPLETE, FAIL (an error ended it) or ABORT (interrupted) when the command ends.
A command that writes no table emits nothing. The run's outputs are the tables the job took for
writing (`Lake.written`; a gold rebuild that found its inputs unchanged still names its table),
its inputs what those tables are fed by (their contracts' `fed_by`: tables, landing zones,
reference files). A table fed by every landing zone (the quarantine, the ingest log) adds no
landing zone of its own: a run reads the zones of the bronze tables it writes.

Names: the namespace of jobs and datasets is `meterlake://<lake root>`; a table is
`<layer>.<name>`, a landing zone `landing.<source>`, a reference file `reference.<name>`. Each
table dataset carries its schema (column types and descriptions), its grain as documentation
and its owner. Each event is one JSON file in the lineage directory, named
`<event time>-<job>-<run id>-<event type>.json` so that listing them in name order replays
them in order.

The directory is `METERLAKE_OPENLINEAGE_DIR` (a local directory; `off` writes nothing), else
`<lake root>/_lineage` for a lake on disk and `var/lineage` under the current directory for a
lake on object storage. Lineage never fails a job: an event that cannot be written is a warning
on stderr.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    DatasetFacet,
    JobFacet,
    RunFacet,
    datasource_dataset,
    documentation_dataset,
    error_message_run,
    job_type_job,
    ownership_dataset,
    processing_engine_run,
    schema_dataset,
)
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.uuid import generate_new_uuid

from meterlake import __version__
from meterlake.core.instants import utc_now_ms
from meterlake.core.object_store import is_object_store
from meterlake.core.table_description import (
    EVERY_LANDING,
    LANDING,
    REFERENCE,
    REFERENCES,
    TableDescription,
    is_landing,
    is_reference,
)

# The client says at INFO which transport each new client uses: noise in a job's log (`watch`
# logs at INFO), as the events themselves are the record.
logging.getLogger("openlineage").setLevel(logging.WARNING)

LINEAGE_DIR_VARIABLE = "METERLAKE_OPENLINEAGE_DIR"
OFF = "off"
PRODUCER = f"urn:meterlake:{__version__}"


def lineage_directory(lake_root: str, env: Mapping[str, str] | None = None) -> str | None:
    """Where a job on `lake_root` writes its events; None when they are off."""
    chosen = (os.environ if env is None else env).get(LINEAGE_DIR_VARIABLE, "").strip()
    if chosen.lower() == OFF:
        return None
    if chosen:
        return chosen
    if is_object_store(lake_root):
        return str(Path("var/lineage").resolve())
    return f"{lake_root.rstrip('/')}/_lineage"


def namespace(lake_root: str) -> str:
    return f"meterlake://{lake_root.rstrip('/')}"


def location_uri(location: str) -> str:
    """A lake or landing location as a URI: `s3a://...` as it is, a local path as `file://`."""
    return location if is_object_store(location) else Path(location).absolute().as_uri()


def dataset_name(source: str) -> str:
    """A `fed_by` entry as an OpenLineage dataset name."""
    if is_landing(source):
        return f"landing.{source.removeprefix(LANDING)}"
    if is_reference(source):
        return f"reference.{source.removeprefix(REFERENCE)}"
    return source


def job_inputs(outputs: Sequence[TableDescription]) -> list[str]:
    """What the written tables are fed by, in order, without `landing:*` (see the module)."""
    return list(dict.fromkeys(source for table in outputs for source in table.fed_by
                              if source != EVERY_LANDING))


class LineageRun:
    """One run of one job: emits its events (each at most once) through the FileTransport."""

    def __init__(self, job: str, lake_root: str, landing_root: str,
                 tables: Mapping[str, TableDescription], directory: str | None) -> None:
        self.job = job
        self.lake_root = lake_root
        self.landing_root = landing_root
        self.tables = tables
        self.directory = directory
        self.run_id = str(generate_new_uuid())
        self.started_at = utc_now_ms()
        self.is_started = False
        self.is_finished = False

    def start(self) -> None:
        """START, once: the job is about to write its first table."""
        if self.is_started or self.directory is None:
            return
        self.is_started = True
        self._emit("START", self.started_at, [], [])

    def finish(self, written: Sequence[str], error: BaseException | None = None) -> None:
        """COMPLETE (no error), FAIL (an exception) or ABORT (interrupted), with the tables
        written and what feeds them; nothing when the run never started."""
        if not self.is_started or self.is_finished:
            return
        self.is_finished = True
        outputs = [self.tables[name] for name in written if name in self.tables]
        state = ("COMPLETE" if error is None
                 else "FAIL" if isinstance(error, Exception) else "ABORT")
        # Never in START's millisecond: the files' names order the events.
        at = max(utc_now_ms(), self.started_at + timedelta(milliseconds=1))
        self._emit(state, at, job_inputs(outputs), outputs, error)

    def _emit(self, state: str, at: datetime, inputs: Sequence[str],
              outputs: Sequence[TableDescription], error: BaseException | None = None) -> None:
        assert self.directory is not None
        try:
            event = self._event(state, at, inputs, outputs, error)
            os.makedirs(self.directory, exist_ok=True)
            stamp = at.strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"
            path = f"{self.directory}/{stamp}-{self.job}-{self.run_id}-{state}.json"
            # append: the path is used as it is (otherwise the transport adds a local time).
            transport = FileTransport(FileConfig(log_file_path=path, append=True))
            OpenLineageClient(transport=transport).emit(event)
        except Exception as failure:  # noqa: BLE001 - lineage must never fail the job
            print(f"meterlake: warning: OpenLineage {state} event of {self.job} not written to "
                  f"{self.directory}: {type(failure).__name__}: {failure}", file=sys.stderr)

    def _event(self, state: str, at: datetime, inputs: Sequence[str],
               outputs: Sequence[TableDescription], error: BaseException | None) -> RunEvent:
        run_facets: dict[str, RunFacet] = {"processing_engine": processing_engine_run
                                         .ProcessingEngineRunFacet(version=__version__,
                                                                   name="meterlake")}
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=f"{type(error).__name__}: {error}", programmingLanguage="python",
                stackTrace="".join(traceback.format_exception(error)))
        job_facets: dict[str, JobFacet] = {"jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="MeterLake", jobType="JOB")}
        space = namespace(self.lake_root)
        return RunEvent(
            eventType=RunState[state], eventTime=at.isoformat().replace("+00:00", "Z"),
            run=Run(runId=self.run_id, facets=run_facets),
            job=Job(namespace=space, name=self.job, facets=job_facets),
            inputs=[InputDataset(namespace=space, name=dataset_name(source),
                                 facets=self._facets(source)) for source in inputs],
            outputs=[OutputDataset(namespace=space, name=table.qualified_name,
                                   facets=self._facets(table.qualified_name))
                     for table in outputs],
            producer=PRODUCER)

    def _facets(self, source: str) -> dict[str, DatasetFacet]:
        if is_landing(source):
            name = source.removeprefix(LANDING)
            location = f"{self.landing_root.rstrip('/')}/{name}"
            return {
                "dataSource": datasource_dataset.DatasourceDatasetFacet(
                    name=source, uri=location_uri(location)),
                "documentation": documentation_dataset.DocumentationDatasetFacet(
                    description=f"the landing zone of {name}: every object as received")}
        if is_reference(source):
            return {"documentation": documentation_dataset.DocumentationDatasetFacet(
                description=REFERENCES.get(source.removeprefix(REFERENCE), source))}
        table = self.tables.get(source)
        if table is None:
            return {}
        fields = [schema_dataset.SchemaDatasetFacetFields(
            name=c.name, type=c.type,
            description=c.description + (f" [{c.unit}]" if c.unit else ""))
            for c in table.columns]
        return {
            "schema": schema_dataset.SchemaDatasetFacet(fields=fields),
            "documentation": documentation_dataset.DocumentationDatasetFacet(
                description=table.grain),
            "ownership": ownership_dataset.OwnershipDatasetFacet(
                owners=[ownership_dataset.Owner(name=table.owner, type="team")]),
            "dataSource": datasource_dataset.DatasourceDatasetFacet(
                name=table.qualified_name, uri=location_uri(table.path(self.lake_root))),
        }
