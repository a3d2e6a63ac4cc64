"""Names that look unused to vulture (`make lint`) because a framework reads them by name.

Nothing imports or runs this module: vulture reads the attribute names below as "used". Each group
says who reads them. Code that is really unused, or used only by tests, does not belong here:
delete it (or move it to tests/). Decorated entry points (routes, validators, decorated Lambda
handlers) are whitelisted by decorator in pyproject.toml ``[tool.vulture]``.
"""

from typing import Any

_: Any = None

# --- Lambda entry points, named by string in infra/constructs (FunctionSpec.handler). The
# powertools decorators cover them today; listed so that an undecorated one stays whitelisted.
_.api  # functions.<service>.handler.api, functions.webhooks.ops_handler.api
_.park  # functions.ticket.tasks.park
_.step  # functions.ticket.tasks.step
_.intake  # functions.ticket.tasks.intake
_.execution_status  # functions.ticket.tasks.execution_status (EventBridge execution events)
_.gauges  # functions.ticket.gauges_handler.gauges
_.assign  # functions.dispatch.tasks.assign
_.offer_expired  # functions.dispatch.tasks.offer_expired
_.seed  # functions.dispatch.tasks.seed
_.onboard  # functions.ticket.onboard_handler.onboard (the tenant stacks' custom-resource provider)
_.settle  # functions.settlement.tasks.settle
_.fire  # functions.reminders.handler.fire
_.handle  # functions.ticket.publish_handler.handle (the table stream -> scrm-events)
_.send  # functions.webhooks.outbound_handler.send (the outbound webhooks queue)
_.redirect_request  # shared.adapters.webhooks_out: urllib's hook, overridden so redirects are not followed
# domain events' data (shared/domain/events.py): serialized into the event, read by its consumers
_.ticket_version
_.from_node
_.to_node
_.opportunity_id
_.merged_id
# shared.repositories.outbox.outbox_item: how the customers / opportunities services publish their
# events (customer.merged, opportunity.*) in their own transactions; wire it there, then drop this
_.outbox_item

# --- pydantic: model configuration, and fields only serialization reads (API answers, stored
# documents): model_dump / model_dump_json read them, no Python code does.
_.model_config
_.created_by  # Ticket, TicketOut
_.closed_at  # Ticket, TicketOut
_.assignments_7d  # TechnicianOut
_.basis  # settlement SurchargeLine
_.installer_share_percent  # settlement Settlement
_.body_bytes  # webhooks DeliveryOut
_.completed_between  # tenant settlement rule
_.ticket_total  # ledger entry (domain, stored item, API answer)

# --- pynamodb: index names, key attributes of indexes, TTL and stored attributes that only
# DynamoDB reads (queries go through the index objects), and the Attribute subclass protocol.
_.index_name
_.gsi1pk
_.gsi1sk
_.gsi2pk
_.gsi2sk
_.gsi3pk
_.gsi3sk
_.gsi4pk  # the deliveries' list index (shared/repositories/deliveries.py)
_.gsi4sk
_.gsi5pk  # the ticket lists' indexes (shared/repositories/tickets.py)
_.gsi6pk
_.lsk  # the ticket indexes' shared sort key
_.expires_at  # TTL attribute: DynamoDB deletes the item
_.sent_at  # reminder markers: kept for people reading the table
_.body_omitted  # deliveries: kept for people reading the table
_.attr_type  # DecimalAttribute
_.serialize
_.deserialize

# --- the standard library calls these by name
_.__getattr__  # shared/tenant/__init__.py: a module's lazy attributes (PEP 562)
_.__qualname__  # shared/workflow/task_errors.py: the error name Lambda reports
_.doctype  # functions/webhooks/adapters/wecom.py: XMLParser target callback (refuses DOCTYPE)
_.pubid  # ... its signature, fixed by xml.etree
_.system
# http.server: infra/twin/server.py request handler and server
_.protocol_version
_.server_version
_.log_message
_.send_error
_.close_connection
_.do_GET
_.do_POST
_.do_PUT
_.do_PATCH
_.do_DELETE
_.daemon_threads
_.request_queue_size

# --- the Lambda context object powertools reads (infra/twin/lambdas.py LocalContext)
_.function_version
_.memory_limit_in_mb
_.aws_request_id
_.log_group_name
_.log_stream_name

# --- AWS CDK / jsii: interface methods the CDK calls, properties set for CloudFormation
_.try_bundle  # ILocalBundling (infra/constructs/bundling.py)
_.export_name  # CfnOutput.export_name setter (infra/stacks.py)

# --- moto: the state moto's Step Functions interpreter reads next (infra/twin/moto_fixes.py)
_.next_state_name

# --- local twin (itself test infrastructure): what it records for the tests to read
_.waited  # infra/twin/lambdas.py: invocations that queued for a busy container
_.dead_lettered_to  # infra/twin/rules.py: where a failed event went
_.redeploy_tenant  # infra/twin/twin.py: the Update a tenant redeploy sends its Custom::ScrmTenant

# --- the other side of a contract, kept beside the code it mirrors and used by the tests
_.from_tenant  # functions/settlement/pricing.py: PricingInput from a tenant file (pricing tests)
_.envelope  # functions/webhooks/adapters/wecom.py: WeCom's encryption side (signature vectors)
_.catalogue_metrics  # infra/constructs/observability.py: the metrics a dashboard shows (infra tests)
_.BY_NAME  # shared/metrics.py: the catalogue by metric name (dashboard tests)
_.catalogue_table  # shared/metrics.py: the catalogue as Markdown (docs)
_.decode_config  # shared/tenant/transport.py: encode_config read back (infra tests decode the template)

# --- powertools parameters: BaseProvider calls these (shared/adapters/tenant_configs.py)
_._get
_._get_multiple
# the condition language's operators (shared/rules/conditions.py): pydantic fields read by name
# (``Condition._get``) from the tenant file's keys; ``_dump`` is its model_serializer
_.equals
_.not_equals
_.in_
_.not_in
_.gt
_.gte
_.lte
_._dump

# --- JMESPath functions: jmespath.functions.Functions finds ``_func_<name>`` methods by name.
_._func_phone_in  # shared.domain.deliveries._Functions: phone_in(text) in channel rules
