-- civiclake: a counter in superset_meta that moves forward, in the same transaction,
-- with every change to who may see what (users' roles and groups, roles' permissions).
-- Superset workers remember permission answers under the counter's value
-- (infra/superset/access_memo.py) and ask again as soon as it moves, so a revoked
-- role or permission takes effect on the very next request, in every worker.
-- Idempotent: infra/superset/setup.sh runs it after `superset db upgrade`.

create table if not exists civiclake_access_generation (
    singleton boolean primary key default true check (singleton),
    generation bigint not null
);
insert into civiclake_access_generation (singleton, generation)
values (true, 1)
on conflict (singleton) do nothing;

create or replace function civiclake_bump_access_generation() returns trigger
language plpgsql as $$
begin
    update civiclake_access_generation set generation = generation + 1;
    return null;
end
$$;

do $$
declare
    access_table text;
begin
    foreach access_table in array array[
        'ab_user_role', 'ab_user_group', 'ab_group_role', 'ab_group',
        'ab_role', 'ab_permission_view_role', 'ab_permission_view',
        'ab_permission', 'ab_view_menu'
    ] loop
        execute format('drop trigger if exists civiclake_access_generation on %I', access_table);
        execute format(
            'create trigger civiclake_access_generation '
            'after insert or update or delete or truncate on %I '
            'for each statement execute function civiclake_bump_access_generation()',
            access_table
        );
    end loop;
end
$$;
