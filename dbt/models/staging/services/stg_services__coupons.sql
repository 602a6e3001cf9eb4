select
    coupon_id,
    coupon_kind,
    cast(face_value as double) as face_value,
    district_code,
    street_code,
    community_code,
    {{ local_timestamp('issued_at') }} as issued_at,
    status as coupon_status,
    {{ local_timestamp('redeemed_at') }} as redeemed_at,
    is_deleted
from {{ source('services', 'services_coupons') }}
