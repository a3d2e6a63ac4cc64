"""The one DynamoDB table of the platform (keys and indexes: docs/design.md)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from shared.repositories.deliveries import DELIVERY_INDEX, DELIVERY_INDEX_ATTRIBUTES
from shared.repositories.tickets import (
    ASSIGNEE_INDEX,
    LIST_INDEX,
    LIST_INDEX_ATTRIBUTES,
    OPEN_INDEX,
    OPEN_INDEX_ATTRIBUTES,
    TICKET_INDEX_SORT_KEY,
)

TTL_ATTRIBUTE = "expires_at"
INDEXES = {"gsi1": ("gsi1pk", "gsi1sk"), "gsi2": ("gsi2pk", "gsi2sk")}
SPARSE_INDEXES = {
    OPEN_INDEX: ("gsi3pk", TICKET_INDEX_SORT_KEY, OPEN_INDEX_ATTRIBUTES),
    DELIVERY_INDEX: ("gsi4pk", "gsi4sk", DELIVERY_INDEX_ATTRIBUTES),
    LIST_INDEX: ("gsi5pk", TICKET_INDEX_SORT_KEY, LIST_INDEX_ATTRIBUTES),
    ASSIGNEE_INDEX: ("gsi6pk", TICKET_INDEX_SORT_KEY, LIST_INDEX_ATTRIBUTES),
}
"""Indexes that project only some attributes: ``gsi3``, a tenant's open tickets (type, node);
``gsi4``, a tenant's webhook deliveries (what a list shows: never the raw body or the payload);
``gsi5`` and ``gsi6``, a tenant's and an assignee's tickets (keys and the filter columns: every
ticket save rewrites both entries, so the gzip body is not written again per index; a list page
reads its tickets by key, ``shared/repositories/tickets.py``). The three ticket indexes share
one sort-key attribute, ``lsk``: a ticket item carries the value once, not thrice."""


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class DataTable(Construct):
    """Single table: ``pk``/``sk`` strings, GSIs ``gsi1``/``gsi2`` (all attributes: technicians),
    ``gsi3`` (open tickets: type and node), ``gsi4`` (deliveries: list columns), ``gsi5``/``gsi6``
    (the ticket lists: keys and filter columns), TTL ``expires_at``, a stream
    of new images (the revenue aggregates' feed).

    ``dynamodb.Table`` rather than ``TableV2``: moto (the local twin) deploys
    ``AWS::DynamoDB::Table`` but not ``AWS::DynamoDB::GlobalTable``.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=_string("pk"),
            sort_key=_string("sk"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
            # new images of every write: the revenue aggregates are folded from it (aggregates.py)
            stream=dynamodb.StreamViewType.NEW_IMAGE,
        )
        for index, (pk, sk) in INDEXES.items():
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=_string(pk),
                sort_key=_string(sk),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        for index, (pk, sk, attributes) in SPARSE_INDEXES.items():
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=_string(pk),
                sort_key=_string(sk),
                projection_type=dynamodb.ProjectionType.INCLUDE,
                non_key_attributes=list(attributes),
            )
