"""Where moto differs from AWS in a way the product depends on, the twin makes it behave.

- DynamoDB transactions: moto applies a TransactWriteItems item by item and restores a
  snapshot of the whole table on failure. Concurrent requests then interleave, and one
  request's rollback can undo another's committed write. DynamoDB serializes them; so does
  the twin, by handling one DynamoDB request at a time.
- DynamoDB transaction rollback: the snapshot moto takes for that rollback is a deep copy of
  every table the transaction names, so each TransactWriteItems costs O(table size) and the
  twin slows down as its tables grow. The twin snapshots only the items the transaction
  addresses (one per operation: its table and key) and, on any failure, puts each back as it
  was: the old item where there was one, none where the transaction created it, in its old
  place in moto's item dicts (a GSI query is a scan of those dicts in insertion order, ties
  included), and the tables' stream records as they were. moto's own checks, cancellation
  reasons and order are untouched: its transact_write_items still runs; only its table copy
  is skipped (and its restore of that copy is then a no-op).
- Step Functions, a Catch whose ``Next`` is the state that failed (a human node's action that
  loops back to the same node): moto's ``State._set_next`` takes "next state == this state" to
  mean "not overridden" and follows the state's ``Next`` instead, so the loop goes to the
  primary target. AWS enters the state again. The twin remembers that a catcher chose the next
  state and keeps that choice (``catch_to_self``).

- Step Functions, ``SendTaskSuccess`` / ``SendTaskFailure`` / ``SendTaskHeartbeat``: moto looks
  for the token in every execution's callback pool, reading ``execution.exec_worker.env``, which is
  None while an execution is starting (its worker thread has not run yet); a callback sent at that
  moment fails with an AttributeError instead of reaching its own execution (a dispatch that finds
  no candidate while another ticket starts). Such executions hold no callback yet, so the twin
  skips them (``callbacks_skip_starting_executions``).

The same wrapper meters request units (see meter.py). ``install()`` applies every fix.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, StreamShard, Table
from moto.dynamodb.responses import DynamoHandler

from infra.twin.meter import enter_aws, leave_aws, meter_dynamodb

_lock = threading.RLock()
_installed = False


def dynamodb_lock() -> threading.RLock:
    """The lock every DynamoDB request of the twin runs under: a reader of moto's tables or streams
    outside a request (the twin's stream poller) holds it to see only what committed."""
    return _lock


def serialize_dynamodb() -> None:
    global _installed
    if _installed:
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        operation = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
        enter_aws()
        try:
            with _lock:
                try:
                    response = original(self)
                except Exception:
                    meter_dynamodb(self, operation, getattr(self, "body", {}) or {}, None)
                    raise
                meter_dynamodb(self, operation, self.body or {}, response)
                return response
        finally:
            leave_aws()

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _installed = True


_transaction = threading.local()  # .depth: transact_write_items calls running on this thread
_rollback_installed = False


def install() -> None:
    """Every fix the twin needs (idempotent)."""
    serialize_dynamodb()
    roll_back_transaction_items()
    catch_to_self()
    callbacks_skip_starting_executions()


def callbacks_skip_starting_executions() -> None:
    """Task callbacks look only in executions that have started (see the module doc)."""
    from moto.stepfunctions.parser.api import (
        ExecutionStatus,
        InvalidToken,
        SendTaskFailureOutput,
        TaskDoesNotExist,
        TaskTimedOut,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackConsumerTimeout,
        CallbackNotifyConsumerError,
        CallbackOutcomeFailure,
        CallbackOutcomeSuccess,
    )
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend as Backend

    if getattr(Backend.send_task_failure, "_scrm_fixed", False):
        return

    def deliver(self: Any, status: Any, call: Callable[[Any], bool]) -> None:
        for execution in self._get_executions(status):
            env = getattr(getattr(execution, "exec_worker", None), "env", None)
            if env is None:  # still starting: it has issued no token yet
                continue
            try:
                if call(env.callback_pool_manager):
                    return
            except CallbackNotifyConsumerError as error:
                raise (
                    TaskTimedOut() if isinstance(error, CallbackConsumerTimeout) else TaskDoesNotExist()
                ) from None
        raise InvalidToken()

    def send_task_success(self: Any, task_token: str, outcome: str) -> None:
        done = CallbackOutcomeSuccess(callback_id=task_token, output=outcome)
        deliver(self, ExecutionStatus.RUNNING, lambda pool: pool.notify(callback_id=task_token, outcome=done))

    def send_task_failure(self: Any, task_token: str, error: Any = None, cause: Any = None) -> Any:
        failed = CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause)
        deliver(self, None, lambda pool: pool.notify(callback_id=task_token, outcome=failed))
        return SendTaskFailureOutput()

    def send_task_heartbeat(self: Any, task_token: str) -> None:
        deliver(self, ExecutionStatus.RUNNING, lambda pool: pool.heartbeat(callback_id=task_token))

    methods: tuple[Callable[..., Any], ...] = (send_task_success, send_task_failure, send_task_heartbeat)
    for method in methods:
        setattr(method, "_scrm_fixed", True)  # noqa: B010 -- marks the installed fix
        setattr(Backend, method.__name__, method)


_CAUGHT_NEXT = "_scrm_caught_next"


def catch_to_self() -> None:
    """A Catch that leads back to the failing state re-enters it, as in AWS (see the module doc)."""
    from moto.stepfunctions.parser.asl.component.common.catch import catcher_decl
    from moto.stepfunctions.parser.asl.component.state import state as state_module

    catcher = catcher_decl.CatcherDecl
    state = state_module.CommonStateField
    if getattr(state._set_next, "_scrm_fixed", False):
        return
    original_catch = catcher._eval_body
    original_next = state._set_next

    @functools.wraps(original_catch)
    def eval_catch(self: Any, env: Any) -> None:
        original_catch(self, env)
        if env.stack and type(env.stack[-1]).__name__ == "CatcherOutcomeCaught":
            setattr(env, _CAUGHT_NEXT, self.next_decl.name)

    @functools.wraps(original_next)
    def set_next(self: Any, env: Any) -> None:
        chosen = getattr(env, _CAUGHT_NEXT, None)
        if chosen is not None:
            setattr(env, _CAUGHT_NEXT, None)
            env.next_state_name = chosen
            return
        original_next(self, env)

    set_next._scrm_fixed = True  # type: ignore[attr-defined]
    catcher._eval_body = eval_catch  # type: ignore[method-assign]
    state._set_next = set_next  # type: ignore[method-assign]


class _Copy:
    """The ``copy`` module as moto.dynamodb.models sees it: a Table is not copied inside a transaction."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, x: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(_transaction, "depth", 0) and isinstance(x, Table):
            return x
        return copy.deepcopy(x, memo)


@dataclass
class _Saved:
    """One item a transaction addresses, as it was before the transaction."""

    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    had_partition: bool  # range-key tables: the hash key's dict of items existed
    item: Item | None  # a copy (an Update changes the item in place); None: there was none


class _Snapshot:
    """The items a TransactWriteItems addresses, and the stream records of their tables."""

    def __init__(self) -> None:
        self.saved: dict[tuple[int, DynamoType, DynamoType | None], _Saved] = {}
        self.orders: dict[int, list[DynamoType]] = {}  # id(dict of items): its keys in order
        self.streams: dict[int, tuple[StreamShard, list[StreamRecord], int]] = {}

    @classmethod
    def take(cls, backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> _Snapshot | None:
        """None when some operation's item cannot be told (moto then copies the tables, as it does)."""
        snapshot = cls()
        for entry in transact_items:
            if not isinstance(entry, dict):
                return None
            for op_type, op in entry.items():
                table = backend.tables.get(op.get("TableName", "")) if isinstance(op, dict) else None
                if table is None:
                    continue  # moto reports the missing table; nothing of it can change
                try:
                    if op_type == "Put":
                        attrs = op["Item"]
                        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                        if table.range_key_attr is not None:
                            key[table.range_key_attr] = attrs[table.range_key_attr]
                    else:
                        key = op["Key"]
                    hash_key, range_key = backend.get_keys_value(table, key)
                    hash((hash_key, range_key))  # they are the keys of moto's dicts of items
                except Exception:
                    return None
                snapshot._save(table, hash_key, range_key, deletes=op_type == "Delete")
        return snapshot

    def _save(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None, deletes: bool) -> None:
        if (id(table), hash_key, range_key) in self.saved:
            return  # moto cancels a transaction naming an item twice; once is enough to restore it
        if table.stream_shard is not None and id(table) not in self.streams:
            shard = table.stream_shard
            self.streams[id(table)] = (shard, shard.items, len(shard.items))
        if range_key is None:
            items: MutableMapping[DynamoType, Any] | None = table.items
            had_partition = True
        else:
            items = table.items.get(hash_key)  # .get: indexing would add the partition
            had_partition = items is not None
        key = hash_key if range_key is None else range_key
        item = items.get(key) if items is not None else None
        if deletes and items is not None and item is not None and id(items) not in self.orders:
            self.orders[id(items)] = list(items)  # to put a deleted item back in its place
        self.saved[(id(table), hash_key, range_key)] = _Saved(
            table=table,
            hash_key=hash_key,
            range_key=range_key,
            had_partition=had_partition,
            item=copy.deepcopy(item) if item is not None else None,
        )

    def restore(self) -> None:
        """Put every saved item back as it was (and drop any the transaction created)."""
        reorder: dict[int, tuple[MutableMapping[DynamoType, Any], list[DynamoType]]] = {}
        for saved in self.saved.values():
            table = saved.table
            if saved.range_key is None:
                items: MutableMapping[DynamoType, Any] | None = table.items
                key = saved.hash_key
            elif saved.item is not None:
                items = table.items[saved.hash_key]
                key = saved.range_key
            else:
                items = table.items.get(saved.hash_key)
                key = saved.range_key
            if items is None:
                continue
            if saved.item is None:
                items.pop(key, None)
                if not saved.had_partition and not items:
                    del table.items[saved.hash_key]
                continue
            if key not in items and id(items) in self.orders:
                reorder[id(items)] = (items, self.orders[id(items)])  # deleted: back in its place, below
            items[key] = saved.item
        for items, order in reorder.values():
            current = dict(items)
            items.clear()
            for key in order:
                if key in current:
                    items[key] = current.pop(key)
            items.update(current)  # none are left once every item is back; kept, after, if some were
        for shard, records, count in self.streams.values():
            del records[count:]
            shard.items = records


def roll_back_transaction_items() -> None:
    """TransactWriteItems snapshots the items it addresses instead of copying whole tables."""
    global _rollback_installed
    if _rollback_installed:
        return
    original: Callable[[DynamoDBBackend, list[dict[str, Any]]], None] = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        snapshot = _Snapshot.take(self, transact_items)
        if snapshot is None:
            return original(self, transact_items)
        _transaction.depth = getattr(_transaction, "depth", 0) + 1
        try:
            original(self, transact_items)
        except BaseException:
            snapshot.restore()
            raise
        finally:
            _transaction.depth -= 1

    setattr(dynamodb_models, "copy", _Copy())  # noqa: B010 -- the module is not typed to hold it
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _rollback_installed = True
