"""The audit log: one record per developer-API and license-API call, kept for a set time."""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.encrypted_table import encrypted_table, grant_table_items


class AuditLog(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # pk = "<customer>#<YYYY-MM-DD>": a customer's calls of one day are one Query.
        self.key, self.table = encrypted_table(self, "Encrypts the vendstack audit-log table")

    def grant_write(self, grantee: iam.IGrantable) -> None:
        """Append-only: functions may add records and count them in the daily roll-up (an ADD
        on `STATS#<customer>`/`DAY#<date>`), never read or change a record."""
        grant_table_items(grantee, self.table, self.key, ("dynamodb:PutItem", "dynamodb:UpdateItem"))

    def grant_read(self, grantee: iam.IGrantable) -> None:
        """Query records and roll-ups (the vendor's dispute report)."""
        grant_table_items(grantee, self.table, self.key, ("dynamodb:Query",))
