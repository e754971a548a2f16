-- ref_credit_event_mapping: every target is a rule of the same scheme version, and each kind of
-- record the credit feed sends classifies to exactly one rule (one best-priority match).
-- Returns the problems.
with mapping as (
    select * from {{ ref('ref_credit_event_mapping') }}
),

rules as (
    select * from {{ ref('ref_credit_rules') }}
),

-- one sample per kind of record of the feed (as the source writes it)
samples (source_event_type, result, description, score, is_veto, expected_event_type) as (
    values
    ('RANDOM_INSPECTION', '优秀', '“双随机、一公开”物业服务监督检查：优秀', null::numeric, false, 'inspection_excellent'),
    ('RANDOM_INSPECTION', '合格', null, null, false, 'inspection_pass'),
    ('RANDOM_INSPECTION', '责令整改', null, null, false, 'inspection_rectification'),
    ('RANDOM_INSPECTION', '不合格', null, null, false, 'inspection_fail'),
    ('COMPLAINT_VERIFIED', '投诉查实', null, null, false, 'complaint_substantiated'),
    ('PENALTY', '罚款', '未按规定公示收费项目', null, false, 'penalty_fine'),
    ('PENALTY', '罚款并责令退还', '挪用专项维修资金', null, true, 'maintenance_fund_misuse'),
    ('PENALTY', '警告', null, null, false, 'penalty_warning'),
    ('PENALTY', '依法清理出市场', null, null, false, 'penalty_market_exit'),
    ('AWARD', '通报表扬', null, null, false, 'award_county'),
    ('AWARD', '六安市“红色物业”示范企业', null, null, false, 'award_city'),
    ('AWARD', '舒城县“红色物业”示范企业', null, null, false, 'award_county'),
    ('AWARD', '安徽省物业管理示范项目', null, null, false, 'award_province'),
    ('THIRD_PARTY_EVALUATION', '90.0分', null, 90.0, false, 'third_party_eval_excellent'),
    ('THIRD_PARTY_EVALUATION', '89.9分', null, 89.9, false, 'third_party_eval_pass'),
    ('THIRD_PARTY_EVALUATION', '69.9分', null, 69.9, false, 'third_party_eval_fail'),
    ('SATISFACTION_SURVEY', '满意度70.0%', null, 70.0, false, 'owner_survey_medium'),
    ('SATISFACTION_SURVEY', '满意度97.5%', null, 97.5, false, 'owner_survey_high'),
    ('SATISFACTION_SURVEY', '满意度58.0%', null, 58.0, false, 'owner_survey_low'),
    ('PARTY_ANNUAL_EVALUATION', '好', null, null, false, 'party_eval_excellent'),
    ('PARTY_ANNUAL_EVALUATION', '较好', null, null, false, 'party_eval_good'),
    ('PARTY_ANNUAL_EVALUATION', '一般', null, null, false, 'party_eval_pass'),
    ('PARTY_ANNUAL_EVALUATION', '差', null, null, false, 'party_eval_fail'),
    ('PENALTY', '罚款', '情节恶劣，依法清理出市场', null, true, 'penalty_market_exit'),
    ('THIRD_PARTY_EVALUATION', '良好', null, 85.0, false, 'third_party_eval_good'),
    ('THIRD_PARTY_EVALUATION', '不合格', null, 95.0, false, 'third_party_eval_fail')
),

numbered_samples as (
    select
        *,
        row_number() over (order by source_event_type, result, description) as sample_id
    from samples
),

matches as (
    select
        numbered_samples.sample_id,
        mapping.rule_event_type,
        mapping.priority,
        min(mapping.priority) over (partition by numbered_samples.sample_id) as best_priority
    from numbered_samples
    inner join mapping
        on
            numbered_samples.source_event_type = mapping.source_event_type
            and (
                mapping.text_pattern is null
                or concat_ws(' ', numbered_samples.result, numbered_samples.description) ~ mapping.text_pattern
            )
            and (mapping.score_min is null or numbered_samples.score >= mapping.score_min)
            and (mapping.score_max is null or numbered_samples.score < mapping.score_max)
            and (mapping.is_veto_match is null or numbered_samples.is_veto = mapping.is_veto_match)
),

classified as (
    select
        sample_id,
        count(*) as n_best_matches,
        min(rule_event_type) as rule_event_type
    from matches
    where priority = best_priority
    group by sample_id
),

final as (
    select
        mapping.source_event_type,
        mapping.rule_event_type as sample_text,
        'target is not a rule of the same scheme version' as problem
    from mapping
    left join rules
        on
            mapping.scheme_version = rules.scheme_version
            and mapping.rule_event_type = rules.event_type
    where rules.event_type is null

    union all

    select
        numbered_samples.source_event_type,
        concat_ws(' ', numbered_samples.result, numbered_samples.description) as sample_text,
        case
            when classified.sample_id is null then 'matches no mapping row'
            else
                'classified as ' || classified.rule_event_type || ' (' || classified.n_best_matches
                || ' best matches), expected ' || numbered_samples.expected_event_type
        end as problem
    from numbered_samples
    left join classified on numbered_samples.sample_id = classified.sample_id
    where
        classified.sample_id is null
        or classified.n_best_matches <> 1
        or classified.rule_event_type <> numbered_samples.expected_event_type
)

select * from final
