"""Case categories of grassroots governance and the departments that handle them.

One place for the category list, so that the simulator, the classifier, the quality
suites and the marts agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    department: str
    sla_days: int  # days to resolve, counted as calendar days in the foundation


CATEGORIES: tuple[Category, ...] = (
    Category("environment", "市容环境", "城市管理和综合执法局", 3),
    Category("street_vending", "占道经营", "城市管理和综合执法局", 2),
    Category("noise", "噪音扰民", "生态环境局", 3),
    Category("parking", "违章停车", "交通警察大队", 1),
    Category("road_facility", "道路设施", "建筑工务署", 5),
    Category("manhole", "井盖问题", "城市管理和综合执法局", 1),
    Category("property", "物业纠纷", "住房和建设局", 10),
    Category("fire_safety", "消防安全", "消防救援大队", 1),
    Category("labour", "劳动纠纷", "人力资源局", 15),
    Category("garbage", "垃圾清运", "城市管理和综合执法局", 2),
)

CATEGORY_BY_CODE = {c.code: c for c in CATEGORIES}
CATEGORY_CODES = tuple(c.code for c in CATEGORIES)

CHANNELS = ("find_secretary", "hotline_12345", "mini_program", "grid_patrol")
CHANNEL_NAMES = {
    "find_secretary": "找书记",
    "hotline_12345": "12345热线",
    "mini_program": "i龙华小程序",
    "grid_patrol": "网格员巡查",
}
# Every channel of the case funnel (silver.cases): the governance system's channels above
# (which its simulator draws from), then the city-management system's patrols and cameras
# (its 12345 calls are the hotline above) and the Open311 API.
FUNNEL_CHANNEL_NAMES = CHANNEL_NAMES | {
    "city_patrol": "城管巡查",
    "camera": "视频监控",
    "open311": "Open311",
}
FUNNEL_CHANNELS = tuple(FUNNEL_CHANNEL_NAMES)
# A case's status is the type of its latest lifecycle event.
CASE_EVENT_TYPES = (
    "created",
    "dispatched",
    "transferred",
    "accepted",
    "handled",
    "returned",
    "fed_back",
    "closed",
    "reopened",
)
CASE_STATUSES = CASE_EVENT_TYPES
# What a resident is told of each stage (Open311's status_notes before the department's answer).
CASE_STATUS_NOTES = {
    "created": "已受理",
    "dispatched": "已派遣",
    "transferred": "已转办",
    "accepted": "已接单",
    "handled": "已处置",
    "returned": "已退回重办",
    "fed_back": "已反馈",
    "closed": "已办结",
    "reopened": "已重新办理",
}
