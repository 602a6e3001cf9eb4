"""Party building (党建) exports: the files the district's party-building system delivers.

Headers are the system's own (Chinese); each contract maps them to English columns and
its labels to codes. The organisation and member registers arrive as Excel workbooks
(full registers with a deletion mark), the daily activity, sign-in and learning records
as CSV — the street party offices' activity and sign-in exports in GBK, as their
desktop tool writes them.
"""

from __future__ import annotations

from civiclake.contracts.base import AREA, ExportFiles, Field, SourceContract

FAMILY = "party"

ORG_TYPES = {"社区党委": "community_committee", "党总支": "general_branch", "党支部": "branch"}
MEMBER_STATUSES = {"正式党员": "full", "预备党员": "probationary"}
GENDERS = {"男": "M", "女": "F"}
EDUCATION = {
    "初中及以下": "junior_secondary",
    "高中/中专": "senior_secondary",
    "大专": "college",
    "本科": "bachelor",
    "研究生": "postgraduate",
}
ACTIVITY_TYPES = {
    "支部党员大会": "branch_general_meeting",
    "支部委员会": "branch_committee_meeting",
    "党小组会": "party_group_meeting",
    "党课": "party_lecture",
    "主题党日": "theme_day",
}
SIGN_IN_METHODS = {"扫码签到": "qr_code", "人工签到": "manual"}
LEARNING_KINDS = {"线上学习": "online", "线下学习": "offline"}
VOLUNTEER_SERVICES = {
    "环境整治": "environment",
    "助老服务": "elderly_support",
    "文明交通": "traffic",
    "社区治理": "community_governance",
    "便民服务": "convenience",
}

ORGANISATIONS = SourceContract(
    table="party_organisations",
    family=FAMILY,
    source=ExportFiles("党组织信息", "党组织信息_*.xlsx"),
    columns=(
        Field("org_id", "组织编号"),
        Field("org_name", "组织名称"),
        Field("org_type", "组织类别", codes=ORG_TYPES),
        Field("parent_org_id", "上级组织编号", nullable=True),
        Field("community_code", "所属社区编码"),
        Field("secretary_name", "书记姓名", pii="name", nullable=True),
        Field("secretary_phone", "书记联系电话", pii="phone", nullable=True),
        Field("established_on", "成立日期", type="date", not_after_batch=True),
        Field("is_deleted", "是否撤销", type="bool"),
        *AREA,
    ),
    key=("org_id",),
    community_field="community_code",
    deleted_field="is_deleted",
)

MEMBERS = SourceContract(
    table="party_members",
    family=FAMILY,
    source=ExportFiles("党员信息", "党员信息_*.xlsx"),
    columns=(
        Field("member_id", "党员编号"),
        Field("member_name", "姓名", pii="name"),
        Field("gender", "性别", codes=GENDERS),
        Field("member_id_number", "公民身份号码", pii="id_number", id_number=True),
        Field("member_phone", "联系电话", pii="phone", nullable=True),
        Field("org_id", "所在党组织编号"),
        Field("community_code", "所属社区编码"),
        Field("status", "党员状态", codes=MEMBER_STATUSES),
        Field("education", "学历", codes=EDUCATION, nullable=True),
        Field("joined_on", "入党日期", type="date", not_after_batch=True),
        Field("updated_at", "更新时间", type="timestamp", not_after_batch=True),
        Field("is_deleted", "删除标记", type="bool"),
        *AREA,
    ),
    key=("member_id",),
    community_field="community_code",
    deleted_field="is_deleted",
)

ACTIVITIES = SourceContract(
    table="party_activities",
    family=FAMILY,
    source=ExportFiles("组织生活", "组织生活_*.csv", encoding="gbk"),
    columns=(
        Field("activity_id", "活动编号"),
        Field("org_id", "组织编号"),
        Field("activity_type", "活动类型", codes=ACTIVITY_TYPES),
        Field("title", "活动主题"),
        Field("community_code", "社区编码"),
        Field("held_at", "活动时间", type="timestamp", not_after_batch=True),
        Field("place", "活动地点", nullable=True),
        Field("lon", "经度", type="float"),
        Field("lat", "纬度", type="float"),
        Field("planned_attendance", "应到人数", type="int"),
        *AREA,
    ),
    key=("activity_id",),
    community_field="community_code",
    lon_field="lon",
    lat_field="lat",
)

ATTENDANCE = SourceContract(
    table="party_attendance",
    family=FAMILY,
    source=ExportFiles("活动签到", "活动签到_*.csv", encoding="gbk"),
    columns=(
        Field("sign_in_id", "签到编号"),
        Field("activity_id", "活动编号"),
        Field("member_id", "党员编号"),
        Field("member_name", "姓名", pii="name"),
        Field("member_id_number", "身份证号", pii="id_number", id_number=True),
        Field("signed_in_at", "签到时间", type="timestamp", not_after_batch=True),
        Field("method", "签到方式", codes=SIGN_IN_METHODS),
    ),
    key=("sign_in_id",),
)

LEARNING = SourceContract(
    table="party_learning",
    family=FAMILY,
    source=ExportFiles("学习记录", "学习记录_*.csv", encoding="utf-8"),
    columns=(
        Field("record_id", "记录编号"),
        Field("member_id", "党员编号"),
        Field("course", "课程名称"),
        Field("learning_kind", "学习方式", codes=LEARNING_KINDS),
        Field("minutes", "学习时长(分钟)", type="int"),
        Field("score", "学习积分", type="int", nullable=True),
        Field("completed_at", "完成时间", type="timestamp", not_after_batch=True),
    ),
    key=("record_id",),
)

VOLUNTEERING = SourceContract(
    table="party_volunteer_services",
    family=FAMILY,
    source=ExportFiles("志愿服务", "志愿服务_*.xlsx"),
    columns=(
        Field("service_id", "服务编号"),
        Field("volunteer_name", "志愿者姓名", pii="name"),
        Field("volunteer_id_number", "志愿者身份证号", pii="id_number", id_number=True),
        Field("volunteer_phone", "志愿者电话", pii="phone", nullable=True),
        Field("is_party_member", "是否党员", type="bool"),
        Field("service_type", "服务类别", codes=VOLUNTEER_SERVICES),
        Field("project", "服务项目"),
        Field("community_code", "服务社区编码"),
        Field("lon", "经度", type="float", nullable=True),
        Field("lat", "纬度", type="float", nullable=True),
        Field("started_at", "开始时间", type="timestamp", not_after_batch=True),
        Field("hours", "服务时长(小时)", type="float"),
        *AREA,
    ),
    key=("service_id",),
    community_field="community_code",
    lon_field="lon",
    lat_field="lat",
)

CONTRACTS = (ORGANISATIONS, MEMBERS, ACTIVITIES, ATTENDANCE, LEARNING, VOLUNTEERING)
