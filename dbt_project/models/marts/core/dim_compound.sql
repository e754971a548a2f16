-- Compound dimension (小区维度) with history: one row per SCD2 version of a compound.
with history as (

    select * from {{ ref('int_compound_history') }}

),

final as (

    select
        compound_id,
        version_number,
        compound_name,
        town_code,
        community_code,
        address,
        is_urban_residential,
        households,
        buildings,
        built_year,
        service_mode_code,
        has_property_service,
        enterprise_uscc,
        enterprise_name,
        service_start_date,
        ledger_date,
        valid_from,
        valid_to,
        is_current,
        is_deleted_at_valid_to,
        compound_id || '@' || to_char(valid_from, 'YYYY-MM-DD') as compound_version_id
    from history

)

select * from final
