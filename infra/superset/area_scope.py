"""Every table a restricted viewer's query reads is scoped to the viewer's area first.

Superset applies row-level security by adding the rule to the outer ``WHERE`` of a
chart query, next to whatever the viewer sent: a filter whose column is custom SQL
(``1=1 OR street_code``) is pasted in unparenthesised, and ``OR`` then outranks the
rule. This module does not depend on how that clause is composed. It parses the final
SQL (sqlglot, the parser Superset itself uses) and replaces each table the query reads
with a subquery that already holds only the rows the viewer may see::

    SELECT … FROM main.mart_x WHERE 1=1 OR street_code IS NOT NULL AND (…)
    SELECT … FROM (SELECT * FROM main.mart_x WHERE street_code = '440309002') AS mart_x
           WHERE 1=1 OR street_code IS NOT NULL AND (…)

so no expression in the outer query, scalar subqueries and unions included, can reach
a row outside the area. The rules come from the caller (Superset's own row-level
security rules for the viewer, see superset_config.py); a table the rules do not know
(not a dataset: staging relations, DuckDB catalog views, a CTE, a file name) and every
table function (``read_text``, ``query_table`` …) is refused, and a dataset that has no
rule for a restricted viewer yields no rows (deny by default). Anything that is not a
single read-only query is refused.

The SQL handed on is sqlglot's rendering of what it parsed (comments dropped), so the
database runs exactly the query that was checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlglot
from sqlglot import exp

# (schema, table) -> the viewer's predicates on that table (all must hold), [] for a
# dataset without rules, None for a table that is not a dataset.
RulesFor = Callable[[str, str], Sequence[str] | None]


class AreaScopeError(PermissionError):
    """A query a restricted viewer may not run; the message says what was refused."""


def scope_query(
    sql: str, rules_for: RulesFor, *, dialect: str = "duckdb", default_schema: str = "main"
) -> str:
    """``sql`` with every table replaced by a subquery restricted by ``rules_for``."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise AreaScopeError(
            f"query refused: it could not be parsed ({exc.errors[0]['description']})"
        ) from exc
    if len(statements) != 1:
        raise AreaScopeError(f"query refused: one statement expected, got {len(statements)}")
    (statement,) = statements
    if not isinstance(statement, exp.Query):
        raise AreaScopeError(f"query refused: only SELECT is allowed, got {statement.key.upper()}")

    def scope_table(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table):
            return node
        if not isinstance(node.this, exp.Identifier):
            raise AreaScopeError(
                f"query refused: table function {node.this.sql(dialect=dialect)!r} is not allowed"
            )
        if node.catalog:
            raise AreaScopeError(f"query refused: {node.sql(dialect=dialect)!r} names another database")
        schema, table = node.db or default_schema, node.name
        predicates = rules_for(schema, table)
        if predicates is None:
            raise AreaScopeError(f"query refused: {schema}.{table} is not a dataset you may read")
        condition = (
            sqlglot.and_(*(sqlglot.parse_one(p, read=dialect) for p in predicates))
            if predicates
            else exp.false()
        )
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table))
        source = node.copy()
        source.set("alias", None)
        return exp.Subquery(this=exp.select("*").from_(source).where(condition), alias=alias)

    return statement.transform(scope_table).sql(dialect=dialect, comments=False)
