-- Credit score and grade of every enterprise on file at every month end (物业企业信用月度评价):
-- score = base + min(good points, good cap) - bad points over the items valid at the month end
-- (event_date <= month_end < valid_until), where the points of complaints found true (rule group
-- 'complaint', one deduction per work order) count at most the scheme's complaint_points_cap
-- (DOMAIN §8: 10 points per 12 months), floored at the scheme's min_score (0); grade from
-- ref_credit_grade_bands of the scheme in force; a valid veto item (一票否决) forces the scheme's
-- veto grade (C).
with months as (

    select * from {{ ref('int_reporting_months') }}

),

enterprises as (

    select * from {{ ref('int_enterprise_history') }}

),

items as (

    select * from {{ ref('int_credit_items_scored') }}

),

schemes as (

    select * from {{ ref('ref_credit_schemes') }}

),

bands as (

    select * from {{ ref('ref_credit_grade_bands') }}

),

enterprise_months as (

    select distinct
        enterprises.enterprise_uscc,
        months.month_end_date,
        months.is_provisional,
        enterprises.enterprise_name
    from months
    inner join enterprises
        on
            months.month_end_date >= enterprises.valid_from
            and (enterprises.valid_to is null or months.month_end_date < enterprises.valid_to)

),

valid_kinds as (

    -- the items valid at the month end, by kind (rule code)
    select
        enterprise_months.enterprise_uscc,
        enterprise_months.month_end_date,
        items.credit_rule_code,
        items.direction,
        items.credit_rule_group,
        coalesce(sum(items.points), 0) as points,
        bool_or(items.is_veto) as has_veto,
        count(items.credit_event_id) as records
    from enterprise_months
    left join items
        on
            enterprise_months.enterprise_uscc = items.enterprise_uscc
            and enterprise_months.month_end_date >= items.event_date
            and enterprise_months.month_end_date < items.valid_until
    group by
        enterprise_months.enterprise_uscc, enterprise_months.month_end_date, items.credit_rule_code,
        items.direction, items.credit_rule_group

),

valid_items as (

    select
        enterprise_uscc,
        month_end_date,
        coalesce(sum(points) filter (where direction = 'good'), 0) as good_points_raw,
        coalesce(sum(points) filter (where direction = 'bad' and credit_rule_group = 'complaint'), 0)
            as complaint_points_raw,
        coalesce(
            sum(points) filter (where direction = 'bad' and credit_rule_group is distinct from 'complaint'), 0
        ) as other_bad_points,
        coalesce(bool_or(has_veto), false) as has_veto,
        sum(records) as valid_items,
        coalesce(sum(records) filter (where direction = 'good'), 0) as good_records,
        coalesce(sum(records) filter (where direction = 'bad'), 0) as bad_records,
        string_agg(
            coalesce(credit_rule_code, 'unclassified') || ':' || records, '|' order by credit_rule_code
        ) filter (where records > 0) as records_by_kind
    from valid_kinds
    group by enterprise_uscc, month_end_date

),

scored as (

    select
        enterprise_months.enterprise_uscc,
        enterprise_months.month_end_date,
        enterprise_months.is_provisional,
        schemes.scheme_version,
        schemes.base_score::numeric as base_score,
        valid_items.good_points_raw,
        valid_items.complaint_points_raw,
        valid_items.has_veto,
        schemes.veto_grade,
        valid_items.valid_items::integer as valid_items,
        valid_items.good_records::integer as good_records,
        valid_items.bad_records::integer as bad_records,
        valid_items.records_by_kind,
        enterprise_months.enterprise_name,
        schemes.min_score::numeric as min_score,
        least(valid_items.good_points_raw, schemes.good_points_cap::numeric) as good_points,
        valid_items.other_bad_points
        + least(valid_items.complaint_points_raw, schemes.complaint_points_cap::numeric) as bad_points,
        schemes.base_score::numeric
        + least(valid_items.good_points_raw, schemes.good_points_cap::numeric)
        - valid_items.other_bad_points
        - least(valid_items.complaint_points_raw, schemes.complaint_points_cap::numeric) as credit_score_unbounded
    from enterprise_months
    inner join valid_items
        on
            enterprise_months.enterprise_uscc = valid_items.enterprise_uscc
            and enterprise_months.month_end_date = valid_items.month_end_date
    inner join schemes
        on
            enterprise_months.month_end_date >= schemes.valid_from
            and (schemes.valid_to is null or enterprise_months.month_end_date < schemes.valid_to)

),

floored as (

    select
        scored.*,
        greatest(scored.min_score, scored.credit_score_unbounded) as credit_score
    from scored

),

graded as (

    select
        scored.*,
        score_band.grade as score_grade,
        case when scored.has_veto then scored.veto_grade else score_band.grade end as credit_grade
    from floored as scored
    left join bands as score_band
        on
            scored.scheme_version = score_band.scheme_version
            and (score_band.min_score is null or scored.credit_score >= score_band.min_score)
            and (score_band.max_score is null or scored.credit_score < score_band.max_score)
            and scored.month_end_date >= score_band.valid_from
            and (score_band.valid_to is null or scored.month_end_date < score_band.valid_to)

),

final as (

    select
        graded.enterprise_uscc,
        graded.month_end_date,
        graded.is_provisional,
        graded.scheme_version,
        graded.base_score,
        graded.good_points_raw,
        graded.good_points,
        graded.complaint_points_raw,
        graded.bad_points,
        graded.credit_score_unbounded,
        graded.credit_score,
        graded.has_veto,
        graded.valid_items,
        graded.good_records,
        graded.bad_records,
        graded.records_by_kind,
        graded.enterprise_name,
        graded.score_grade,
        graded.credit_grade,
        grade_band.grade_rank::integer as credit_grade_rank,
        lag(graded.credit_grade) over enterprise_window as previous_credit_grade,
        lag(grade_band.grade_rank::integer) over enterprise_window as previous_credit_grade_rank
    from graded
    left join bands as grade_band
        on
            graded.scheme_version = grade_band.scheme_version
            and graded.credit_grade = grade_band.grade
            and graded.month_end_date >= grade_band.valid_from
            and (grade_band.valid_to is null or graded.month_end_date < grade_band.valid_to)
    window enterprise_window as (partition by graded.enterprise_uscc order by graded.month_end_date)

)

select * from final
