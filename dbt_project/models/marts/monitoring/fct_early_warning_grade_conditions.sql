{{ config(materialized='view') }}

-- Condition periods of the enterprise grade rules (企业信用等级预警), evaluated at the month ends that are
-- not provisional (fct_enterprise_credit). The measure at month end m: the grade rank minus the best
-- (lowest) rank at the month ends in [m - window_days, m) for the grade drop, the grade rank itself
-- for the grade C rule; the condition is measure <comparator> threshold_k. A run of consecutive month
-- ends where it holds is one episode, opened at the first and closed at the month end after the last
-- (where it no longer holds, or the enterprise is no longer on file); open while that month end is not
-- evaluated yet. Both instants are the last second of the month end in Asia/Shanghai.
{%- set grade_drop_rules = "('EW_ENTERPRISE_GRADE_DROP')" %}
{%- set grade_rank_rules = "('EW_ENTERPRISE_GRADE_C')" %}

with rules as (

    select * from {{ ref('ref_early_warning_rules') }}

),

credit as (

    select * from {{ ref('fct_enterprise_credit') }}

),

evaluated as (

    select
        enterprise_uscc,
        month_end_date,
        credit_grade,
        credit_grade_rank,
        credit_score,
        (extract(year from month_end_date) * 12 + extract(month from month_end_date))::integer as month_index
    from credit
    where not is_provisional

),

last_evaluated as (

    select max(month_end_date) as month_end_date
    from evaluated

),

measures as (

    select
        rules.rule_code,
        rules.rule_version,
        this_month.enterprise_uscc,
        this_month.month_end_date,
        this_month.month_index,
        this_month.credit_grade,
        this_month.credit_score,
        (array_agg(earlier.credit_grade order by earlier.credit_grade_rank asc, earlier.month_end_date desc))[1]
            as best_earlier_grade,
        (this_month.credit_grade_rank - min(earlier.credit_grade_rank))::numeric as observed_value
    from evaluated as this_month
    inner join rules on rules.rule_code in {{ grade_drop_rules }}
    inner join evaluated as earlier
        on
            this_month.enterprise_uscc = earlier.enterprise_uscc
            and earlier.month_end_date >= this_month.month_end_date - rules.window_days
            and this_month.month_end_date > earlier.month_end_date
    group by
        rules.rule_code, rules.rule_version, this_month.enterprise_uscc,
        this_month.month_end_date, this_month.month_index, this_month.credit_grade,
        this_month.credit_grade_rank, this_month.credit_score
    union all
    select
        rules.rule_code,
        rules.rule_version,
        evaluated.enterprise_uscc,
        evaluated.month_end_date,
        evaluated.month_index,
        evaluated.credit_grade,
        evaluated.credit_score,
        null as best_earlier_grade,
        evaluated.credit_grade_rank::numeric as observed_value
    from evaluated
    inner join rules on rules.rule_code in {{ grade_rank_rules }}

),

holding_months as (

    -- consecutive month ends share month_index - row number
    select
        measures.*,
        measures.month_index - row_number() over (
            partition by measures.rule_code, measures.rule_version, measures.enterprise_uscc
            order by measures.month_end_date
        ) as island_key
    from measures
    inner join rules
        on
            measures.rule_code = rules.rule_code
            and measures.rule_version = rules.rule_version
    where
        case sign(measures.observed_value - rules.threshold_k)::integer
            when -1 then rules.comparator in ('<', '<=')
            when 0 then rules.comparator in ('<=', '=', '>=')
            when 1 then rules.comparator in ('>', '>=')
        end

),

islands as (

    select
        rule_code,
        rule_version,
        enterprise_uscc,
        min(month_end_date) as first_month_end,
        (date_trunc('month', max(month_end_date)) + interval '2 months - 1 day')::date as closing_month_end,
        count(*) as month_ends,
        (array_agg(observed_value order by month_end_date))[1] as observed_value,
        (array_agg(credit_grade order by month_end_date))[1] as opening_grade,
        (array_agg(credit_score order by month_end_date))[1] as opening_score,
        (array_agg(best_earlier_grade order by month_end_date))[1] as best_earlier_grade
    from holding_months
    group by rule_code, rule_version, enterprise_uscc, island_key

),

final as (

    select
        islands.rule_code,
        islands.rule_version,
        islands.enterprise_uscc as subject_id,
        {{ end_of_day('islands.first_month_end') }} - interval '1 second' as condition_from,
        case
            when islands.closing_month_end <= last_evaluated.month_end_date
                then {{ end_of_day('islands.closing_month_end') }} - interval '1 second'
        end as condition_to,
        null as community_code,
        null as town_code,
        null as compound_id,
        islands.enterprise_uscc,
        islands.observed_value,
        null::numeric as threshold,
        null as comparator,
        null as threshold_unit,
        jsonb_strip_nulls(jsonb_build_object(
            'credit_grade', islands.opening_grade,
            'credit_score', islands.opening_score,
            'best_earlier_grade', islands.best_earlier_grade,
            'month_ends_holding', islands.month_ends
        )) as evidence
    from islands
    cross join last_evaluated

)

select * from final
