"""People services (民生服务) exports: care visits, welfare coupons, service requests.

Care visits are a service record — who was visited, what they needed, whether a worker
follows up — for households that receive care (elderly living alone, disabled residents,
children in difficulty, low-income households). The household is referenced by a token
of its head's ID number; nothing here lists or tracks people.
"""

from __future__ import annotations

from civiclake.contracts.base import AREA, ExportFiles, Field, SourceContract

FAMILY = "services"

CARE_CATEGORIES = {
    "独居老人": "elderly_alone",
    "残疾人": "disabled",
    "困境儿童": "children_in_difficulty",
    "低保户": "low_income",
}
VISIT_KINDS = {"上门走访": "home_visit", "电话问候": "phone_call", "集中服务": "group_service"}
NEEDS = {
    "无": "none",
    "生活照料": "daily_care",
    "医疗康复": "medical",
    "经济援助": "financial",
    "心理慰藉": "emotional",
    "住房改善": "housing",
}
COUPON_KINDS = {
    "消费券": "consumption",
    "助老餐券": "elderly_meal",
    "困难补助券": "hardship",
    "工会福利券": "union_welfare",
}
COUPON_STATUSES = {"已发放": "issued", "已核销": "redeemed", "已过期": "expired", "已作废": "voided"}
REQUEST_CHANNELS = {"政务服务": "government", "工会服务": "union"}
REQUEST_TYPES = {
    "社保医保": "social_insurance",
    "户籍证照": "registration",
    "就业创业": "employment",
    "法律援助": "legal_aid",
    "职工帮扶": "worker_support",
    "劳动争议": "labour_dispute",
    "教育入学": "school_admission",
}
REQUEST_STATUSES = {"已受理": "accepted", "办理中": "in_progress", "已办结": "completed"}

CARE_VISITS = SourceContract(
    table="services_care_visits",
    family=FAMILY,
    source=ExportFiles("关爱走访", "关爱走访_*.xlsx"),
    columns=(
        Field("visit_id", "走访编号"),
        Field("household_id_number", "户主身份证号", pii="id_number", id_number=True),
        Field("household_head_name", "户主姓名", pii="name"),
        Field("care_category", "关爱类别", codes=CARE_CATEGORIES),
        Field("community_code", "社区编码"),
        Field("grid_code", "网格编码", nullable=True),
        Field("worker_id", "走访人员编号"),
        Field("visit_kind", "走访方式", codes=VISIT_KINDS),
        Field("visited_at", "走访时间", type="timestamp", not_after_batch=True),
        Field("need", "主要需求", codes=NEEDS),
        Field("follow_up", "是否需跟进", type="bool"),
        Field("lon", "经度", type="float", nullable=True),
        Field("lat", "纬度", type="float", nullable=True),
        *AREA,
    ),
    key=("visit_id",),
    community_field="community_code",
    lon_field="lon",
    lat_field="lat",
)

COUPONS = SourceContract(
    table="services_coupons",
    family=FAMILY,
    source=ExportFiles("福利券发放核销", "福利券_*.csv", encoding="gbk"),
    columns=(
        Field("coupon_id", "券编号"),
        Field("coupon_kind", "券种", codes=COUPON_KINDS),
        Field("face_value", "面额(元)", type="float"),
        Field("holder_id_number", "领取人身份证号", pii="id_number", id_number=True),
        Field("holder_phone", "领取人手机号", pii="phone", nullable=True),
        Field("community_code", "社区编码"),
        Field("issued_at", "发放时间", type="timestamp", not_after_batch=True),
        Field("status", "状态", codes=COUPON_STATUSES),
        Field("redeemed_at", "核销时间", type="timestamp", nullable=True, not_after_batch=True),
        Field("merchant", "核销商户", nullable=True),
        Field("updated_at", "更新时间", type="timestamp", not_after_batch=True),
        *AREA,
    ),
    key=("coupon_id",),
    community_field="community_code",
)

REQUESTS = SourceContract(
    table="services_requests",
    family=FAMILY,
    source=ExportFiles("服务诉求", "服务诉求_*.csv", encoding="utf-8"),
    columns=(
        Field("request_id", "诉求编号"),
        Field("channel", "服务渠道", codes=REQUEST_CHANNELS),
        Field("request_type", "诉求类型", codes=REQUEST_TYPES),
        Field("requester_name", "申请人姓名", pii="name"),
        Field("requester_phone", "申请人电话", pii="phone"),
        Field("requester_id_number", "申请人身份证号", pii="id_number", id_number=True, nullable=True),
        Field("community_code", "社区编码"),
        Field("submitted_at", "提交时间", type="timestamp", not_after_batch=True),
        Field("status", "办理状态", codes=REQUEST_STATUSES),
        Field("completed_at", "办结时间", type="timestamp", nullable=True, not_after_batch=True),
        Field("summary", "诉求摘要"),
        *AREA,
    ),
    key=("request_id",),
    community_field="community_code",
)

CONTRACTS = (CARE_VISITS, COUPONS, REQUESTS)
