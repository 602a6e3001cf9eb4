select
    operation_id,
    order_id,
    cast(task_index as integer) as task_index,
    department,
    task,
    {{ local_timestamp('due_at') }} as due_at,
    escalation_level,
    escalation_department
from {{ source('operations', 'operation_tasks') }}
