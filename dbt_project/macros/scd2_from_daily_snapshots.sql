{#
    SCD2 history (拉链表) rebuilt from consecutive daily full snapshots of a ledger, by gaps and
    islands over a hash of the tracked columns. Written as a model-level macro, not a dbt
    `snapshot`: a snapshot block only records what it sees at each run, so it cannot rebuild the
    history from a backfill of past days; this query can, and gives the same answer on every rerun.

    - The snapshot days are the distinct `date_column` values present in the relation.
    - An island is a run of consecutive snapshot days in which the key is present with the same
      row hash. valid_from = the island's first snapshot day; valid_to = the first snapshot day
      after the island (the key changed or disappeared), null while the island reaches the latest
      snapshot. Intervals are [valid_from, valid_to).
    - A key missing from a snapshot is deleted from that day (is_deleted_at_valid_to); if it comes
      back, a new version starts.
#}
{% macro scd2_from_daily_snapshots(
    relation, key_columns, tracked_columns, date_column='snapshot_date', output_cte='history'
) -%}
{#- Emits CTE definitions (no leading `with`) for the model's with-list; the last, output_cte,
    holds the versions. -#}
{%- set keys = key_columns | join(', ') -%}
{%- set qualified_keys = [] -%}
{%- for k in key_columns %}{% do qualified_keys.append('snapshot_rows.' ~ k) %}{% endfor -%}
snapshot_rows as (

    select
        {{ keys }},
        {% for column in tracked_columns -%}
        {{ column }},
        {% endfor -%}
        {{ date_column }} as snapshot_date,
        md5(row({{ tracked_columns | join(', ') }})::text) as row_hash
    from {{ relation }}

),

snapshot_days as (

    select
        snapshot_date,
        lag(snapshot_date) over (order by snapshot_date) as previous_snapshot_date,
        lead(snapshot_date) over (order by snapshot_date) as next_snapshot_date
    from (select distinct snapshot_rows.snapshot_date from snapshot_rows) as distinct_days

),

with_previous as (

    select
        snapshot_rows.*,
        snapshot_days.previous_snapshot_date,
        snapshot_days.next_snapshot_date,
        lag(snapshot_rows.row_hash) over (
            partition by {{ qualified_keys | join(', ') }}
            order by snapshot_rows.snapshot_date
        ) as previous_row_hash,
        lag(snapshot_rows.snapshot_date) over (
            partition by {{ qualified_keys | join(', ') }}
            order by snapshot_rows.snapshot_date
        ) as previous_seen_date
    from snapshot_rows
    inner join snapshot_days on snapshot_rows.snapshot_date = snapshot_days.snapshot_date

),

flagged as (

    select
        *,
        case
            when (previous_row_hash is distinct from row_hash) then 1
            when (previous_seen_date is distinct from previous_snapshot_date) then 1
            else 0
        end as is_island_start
    from with_previous

),

numbered as (

    select
        *,
        sum(is_island_start) over (
            partition by {{ keys }} order by snapshot_date rows unbounded preceding
        ) as version_number
    from flagged

),

bounded as (

    select
        *,
        min(snapshot_date) over (partition by {{ keys }}, version_number) as version_valid_from,
        max(snapshot_date) over (partition by {{ keys }}, version_number) as last_seen_date,
        last_value(next_snapshot_date) over (
            partition by {{ keys }}, version_number
            order by snapshot_date
            rows between unbounded preceding and unbounded following
        ) as version_valid_to
    from numbered

),

versions as (

    select
        {{ keys }},
        {% for column in tracked_columns -%}
        {{ column }},
        {% endfor -%}
        row_hash,
        last_seen_date,
        version_number::integer as version_number,
        version_valid_from as valid_from,
        version_valid_to as valid_to
    from bounded
    where snapshot_date = version_valid_from

),

with_next as (

    select
        *,
        lead(valid_from) over (partition by {{ keys }} order by valid_from) as next_version_from
    from versions

),

{{ output_cte }} as (

    select
        {{ keys }},
        version_number,
        {% for column in tracked_columns -%}
        {{ column }},
        {% endfor -%}
        row_hash,
        valid_from,
        valid_to,
        last_seen_date,
        valid_to is null as is_current,
        valid_to is not null and (next_version_from is distinct from valid_to) as is_deleted_at_valid_to
    from with_next

)
{%- endmacro %}
