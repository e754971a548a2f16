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
    - A rejected row is not a deletion (DOMAIN §8): with `rejects_feed`, a key missing from a
      snapshot day because its row was rejected that day (stg_ingest__rejects) keeps its last
      accepted version, as a version of its own with is_carried_forward and carry_reason (the
      reject codes and the day of the version carried); the figures it touches are estimated.
      A rejected key with no accepted version before stays absent (nothing to carry).
    - A reject whose key cannot be identified (DOMAIN §8, ruling in docs/contracts.md): a rejected
      row whose key, as the staging model normalises it, matches no key accepted before its day (a
      blank or malformed id; a new unit rejected on its first day cannot be told from it). It may be
      any unit, so in a snapshot with such rejects every key that vanished against the snapshots since
      the last one without them keeps its last accepted version (carry_reason names
      `unidentified_reject`, the reject codes and the version's day), for as long as the condition
      lasts: the first later snapshot without such rejects that lacks the key deletes it.
#}
{% macro scd2_from_daily_snapshots(
    relation, key_columns, tracked_columns, date_column='snapshot_date', output_cte='history', rejects_feed=none
) -%}
{#- Emits CTE definitions (no leading `with`) for the model's with-list; the last, output_cte,
    holds the versions. -#}
{%- set keys = key_columns | join(', ') -%}
{%- set qualified_keys = [] -%}
{%- for k in key_columns %}{% do qualified_keys.append('snapshot_rows.' ~ k) %}{% endfor -%}
accepted_rows as (

    select
        {{ keys }},
        {% for column in tracked_columns -%}
        {{ column }},
        {% endfor -%}
        {{ date_column }} as snapshot_date
    from {{ relation }}

),
{%- if rejects_feed %}

rejected_rows as (

    -- keys as the staging model normalises them: trimmed, credit codes in upper case
    select
        {% for k in key_columns -%}
        {% if k.endswith('uscc') %}upper({% endif %}nullif(btrim(record ->> '{{ k }}'), ''){% if k.endswith('uscc') %}){% endif %} as {{ k }},
        {% endfor -%}
        snapshot_date,
        reason_code
    from {{ ref('stg_ingest__rejects') }}
    where feed = '{{ rejects_feed }}'

),

rejected_keys as (

    select
        {{ keys }},
        snapshot_date,
        string_agg(distinct reason_code, ', ' order by reason_code) as reason_codes
    from rejected_rows
    group by {{ keys }}, snapshot_date

),

unidentified_days as (

    -- snapshot days with rejected rows whose key matches no key accepted before the day
    select
        rejected_rows.snapshot_date,
        count(*) as rejected_rows,
        string_agg(distinct rejected_rows.reason_code, ', ' order by rejected_rows.reason_code) as reason_codes
    from rejected_rows
    where not exists (
        select 1 from accepted_rows as known
        where
            {% for k in key_columns -%}
            known.{{ k }} = rejected_rows.{{ k }}
            and {% endfor -%}
            known.snapshot_date < rejected_rows.snapshot_date
    )
    group by rejected_rows.snapshot_date

),

unidentified_spans as (

    -- each such day with the start of its condition: the last snapshot day before it without such
    -- rejects (or the feed's first day)
    select
        unidentified_days.*,
        coalesce(
            (
                select max(accepted_rows.snapshot_date) from accepted_rows
                where
                    accepted_rows.snapshot_date < unidentified_days.snapshot_date
                    and accepted_rows.snapshot_date not in (select u.snapshot_date from unidentified_days as u)
            ),
            (select min(accepted_rows.snapshot_date) from accepted_rows)
        ) as clean_date
    from unidentified_days

),

keys_to_carry as (

    -- a rejected key (its own reject codes) ...
    select
        {{ keys }},
        snapshot_date,
        reason_codes,
        null::bigint as unidentified_rows
    from rejected_keys
    union all
    -- ... and, on a day with unidentified rejects, every other key accepted since the condition's start
    select distinct
        {% for k in key_columns -%}
        accepted_rows.{{ k }},
        {% endfor -%}
        unidentified_spans.snapshot_date,
        unidentified_spans.reason_codes,
        unidentified_spans.rejected_rows as unidentified_rows
    from unidentified_spans
    inner join accepted_rows
        on
            accepted_rows.snapshot_date >= unidentified_spans.clean_date
            and accepted_rows.snapshot_date < unidentified_spans.snapshot_date
    where not exists (
        select 1 from rejected_keys
        where
            {% for k in key_columns -%}
            rejected_keys.{{ k }} = accepted_rows.{{ k }}
            and {% endfor -%}
            rejected_keys.snapshot_date = unidentified_spans.snapshot_date
    )

),

carried_rows as (

    -- the last accepted row before the day, for a key to carry absent from the day's snapshot
    select
        {% for k in key_columns -%}
        keys_to_carry.{{ k }},
        {% endfor -%}
        {% for column in tracked_columns -%}
        last_accepted.{{ column }},
        {% endfor -%}
        keys_to_carry.snapshot_date,
        case
            when keys_to_carry.unidentified_rows is null then format(
                '%s %s 行被拒收 row rejected (%s): 沿用 %s 的版本 last accepted version of %s carried forward',
                '{{ rejects_feed }}', keys_to_carry.snapshot_date, keys_to_carry.reason_codes,
                last_accepted.snapshot_date, last_accepted.snapshot_date
            )
            else format(
                '%s %s 有 %s 行拒收记录的键无法识别 rejected row(s) whose key cannot be identified '
                '(unidentified_reject: %s): 此日快照中消失的单位沿用 %s 的版本 a unit missing from the snapshot '
                'keeps its last accepted version of %s',
                '{{ rejects_feed }}', keys_to_carry.snapshot_date, keys_to_carry.unidentified_rows,
                keys_to_carry.reason_codes, last_accepted.snapshot_date, last_accepted.snapshot_date
            )
        end as carry_reason
    from keys_to_carry
    inner join lateral (
        select accepted_rows.*
        from accepted_rows
        where
            {% for k in key_columns -%}
            {% if not loop.first %}and {% endif %}accepted_rows.{{ k }} = keys_to_carry.{{ k }}
            {% endfor -%}
            and accepted_rows.snapshot_date < keys_to_carry.snapshot_date
        order by accepted_rows.snapshot_date desc
        limit 1
    ) as last_accepted on true
    where not exists (
        select 1 from accepted_rows as same_day
        where
            {% for k in key_columns -%}
            same_day.{{ k }} = keys_to_carry.{{ k }}
            and {% endfor -%}
            same_day.snapshot_date = keys_to_carry.snapshot_date
    )

),
{%- endif %}

snapshot_rows as (

    -- a carried row's hash differs from its source row's (carry_reason is hashed): its own version
    select
        *,
        md5(row({{ tracked_columns | join(', ') }}, carry_reason)::text) as row_hash
    from (
        select
            accepted_rows.*,
            null::text as carry_reason
        from accepted_rows
        {%- if rejects_feed %}
        union all
        select * from carried_rows
        {%- endif %}
    ) as rows_of_days

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
        carry_reason,
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
        carry_reason is not null as is_carried_forward,
        carry_reason,
        valid_from,
        valid_to,
        last_seen_date,
        valid_to is null as is_current,
        valid_to is not null and (next_version_from is distinct from valid_to) as is_deleted_at_valid_to
    from with_next

)
{%- endmacro %}
