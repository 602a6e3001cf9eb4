select channel_code, channel_name
from {{ source('lake', 'ref_channels') }}
