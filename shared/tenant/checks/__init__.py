"""The checks of a tenant file, one module per part of the file; `shared.tenant.validate` runs them.

- `problems`: `Problem`, `TenantConfigError` and the helpers that build paths and messages;
- `model_errors`: pass 1, the errors of the pydantic models as problems;
- `salvage`: the sections that still validate in a broken file (`Sections`);
- `context`: the names the file defines (`Known`) and the `Context` every checker reports to;
- pass 2, the rules between sections, in the order they run: `document` (empty sections,
  duplicate names), `sla` (calendars), `people` (users, technicians), `settlement` (catalog),
  `sla` (SLA policies), `dispatch`, `workflow` (ticket types; `assignees` for their nodes'
  assignees), `channels`, `customers` (conditions: `shared.rules.conditions`);
- `files`: checks across files (tenant ids, secrets files).
"""
