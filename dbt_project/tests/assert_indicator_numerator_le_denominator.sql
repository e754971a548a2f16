-- Every rate (unit percent) of the published candidate has 0 <= numerator <= denominator; its value
-- is 100 × numerator / denominator, and null exactly when the denominator is 0 (no rate over nothing).
{{ config(severity='error') }}

select *  -- noqa: AM04
from {{ ref('indicator_values') }}
where
    unit = 'percent'
    and (
        numerator is null
        or denominator is null
        or numerator < 0
        or numerator > denominator
        or (denominator = 0 and value is not null)
        or (denominator > 0 and (value is null or abs(value - 100 * numerator / denominator) > 0.0001))
    )
