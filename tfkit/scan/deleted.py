"""Findings for resources that are only being deleted, which Checkov never scans (its issue #5587).

Checkov reads ``planned_values``, where a resource being destroyed no longer exists, so a plan that
deletes a production database passes every Checkov check. tfkit reports every pure delete instead:

* ``TFKIT_DEL_1``: the deleted resource holds data (a storage or database type, or a
  ``terraform_data`` whose ``input.engine`` is set or whose name, ``input.name`` or ``input.kind``
  says db/database/storage/bucket/volume/datastore; the example's failover group "backup" is not
  data). Severity ``[checkov] deleted_data`` (default soft: fails the gate unless waived, since the
  data is lost for good).
* ``TFKIT_DEL_2``: any other deleted resource: advisory, so the report says it went unscanned.

Replacements (delete and create) are not reported here: Checkov scans their new object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tfkit.findings import Finding, Severity
from tfkit.plan import Action, ResourceChange

__all__ = ["DATA_TYPES", "deleted_findings", "holds_data"]

#: Resource types whose destruction loses stored data.
DATA_TYPES = frozenset(
    {
        "aws_s3_bucket",
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_rds_cluster_instance",
        "aws_dynamodb_table",
        "aws_ebs_volume",
        "aws_efs_file_system",
        "aws_elasticache_cluster",
        "aws_elasticache_replication_group",
        "aws_redshift_cluster",
        "aws_docdb_cluster",
        "aws_neptune_cluster",
        "aws_opensearch_domain",
        "aws_elasticsearch_domain",
        "aws_kinesis_stream",
        "aws_backup_vault",
        "aws_glacier_vault",
        "aws_fsx_lustre_file_system",
        "aws_kms_key",
        "aws_secretsmanager_secret",
        "aws_timestream_database",
        "aws_memorydb_cluster",
        "google_sql_database_instance",
        "google_sql_database",
        "google_storage_bucket",
        "google_bigquery_dataset",
        "google_bigquery_table",
        "google_spanner_instance",
        "google_spanner_database",
        "google_bigtable_instance",
        "google_bigtable_table",
        "google_compute_disk",
        "google_filestore_instance",
        "google_firestore_database",
        "google_redis_instance",
        "google_alloydb_cluster",
        "google_kms_crypto_key",
        "azurerm_storage_account",
        "azurerm_storage_container",
        "azurerm_storage_share",
        "azurerm_mssql_database",
        "azurerm_mssql_server",
        "azurerm_sql_database",
        "azurerm_postgresql_server",
        "azurerm_postgresql_flexible_server",
        "azurerm_mysql_server",
        "azurerm_mysql_flexible_server",
        "azurerm_cosmosdb_account",
        "azurerm_managed_disk",
        "azurerm_redis_cache",
        "azurerm_key_vault",
        "azurerm_data_lake_store",
    }
)
_DATA_WORDS = re.compile(r"(^|[^a-z])(db|database|storage|bucket|volume|datastore)([^a-z]|$)")


def _input(change: ResourceChange) -> dict[str, Any]:
    before = change.change.before
    value = before.get("input") if isinstance(before, dict) else None
    return value if isinstance(value, dict) else {}


def holds_data(change: ResourceChange) -> bool:
    """Whether destroying this resource destroys stored data."""
    if change.type in DATA_TYPES:
        return True
    if change.type != "terraform_data":
        return False
    inp = _input(change)
    if inp.get("engine"):
        return True
    names = [change.name, str(inp.get("name") or ""), str(inp.get("kind") or "")]
    return any(_DATA_WORDS.search(n.lower()) for n in names if n)


def deleted_findings(changes: Iterable[ResourceChange], data_severity: Severity) -> list[Finding]:
    """One finding per managed resource that is only being deleted."""
    findings: list[Finding] = []
    for change in changes:
        if change.mode != "managed" or change.change.action is not Action.DELETE:
            continue
        if holds_data(change):
            findings.append(
                Finding(
                    source="checkov",
                    check_id="TFKIT_DEL_1",
                    severity=data_severity,
                    message=f"{change.type} holding data is destroyed; Checkov does not scan deletes",
                    address=change.address,
                    name="A resource that holds data must not be deleted without review",
                )
            )
        else:
            findings.append(
                Finding(
                    source="checkov",
                    check_id="TFKIT_DEL_2",
                    severity=Severity.ADVISORY,
                    message=f"{change.type} is destroyed; not scanned (Checkov does not scan deletes)",
                    address=change.address,
                    name="Deleted resource not scanned by Checkov",
                )
            )
    return findings
