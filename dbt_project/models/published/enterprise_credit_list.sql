{{ config(materialized='table', contract={'enforced': true}) }}

-- Published candidate of the enterprise credit list (物业服务企业信用名单), a disclosure table
-- (DOMAIN §8: credit grades and scores of legal persons are public credit information, 依法公开信用信息).
-- One row per enterprise on file and month end, as fct_enterprise_credit scores it; whether the
-- enterprise serves urban compounds of the county that month, and in which towns, as
-- fct_enterprise_status_monthly decides (the population of the XY_* indicators).
with credit as (

    select * from {{ ref('fct_enterprise_credit') }}

),

enterprise_status as (

    select * from {{ ref('fct_enterprise_status_monthly') }}

),

final as (

    select
        credit.enterprise_uscc,
        credit.month_end_date,
        credit.enterprise_name,
        credit.credit_score,
        credit.credit_grade,
        credit.score_grade,
        credit.has_veto,
        credit.scheme_version,
        credit.good_points,
        credit.bad_points,
        credit.valid_items as valid_records,
        credit.good_records,
        credit.bad_records,
        credit.records_by_kind,
        credit.previous_credit_grade,
        enterprise_status.served_town_codes,
        credit.is_provisional,
        coalesce(enterprise_status.served_compounds, 0) as served_compounds,
        enterprise_status.enterprise_uscc is not null as is_serving_county
    from credit
    left join enterprise_status
        on
            credit.enterprise_uscc = enterprise_status.enterprise_uscc
            and credit.month_end_date = enterprise_status.month_end_date

)

select * from final
