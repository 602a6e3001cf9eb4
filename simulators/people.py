"""Simulated residents: names, mobile numbers and valid-format ID numbers.

The values look real (ID numbers carry a correct check character) so that the
tokenisation at extraction is exercised exactly as it would be on real data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from civiclake.pii import id_check_char

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红鹏辉建华飞鑫波宇浩凯健俊帆帅旭宁玲婷雪琳晨欣怡子涵梓轩浩然思远嘉怡雨桐"
# Birth-place prefixes seen among Shenzhen's residents (Guangdong, Hunan, Guangxi, Sichuan, Henan, Hubei, Jiangxi).
AREA_PREFIXES = ("440309", "440303", "441302", "430124", "452122", "510722", "411323", "420923", "360781")
MOBILE_PREFIXES = (
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "182",
    "183",
    "187",
    "188",
    "130",
    "131",
    "132",
    "155",
    "156",
    "185",
    "186",
    "133",
    "153",
    "180",
    "189",
    "199",
    "177",
    "166",
)


@dataclass(frozen=True)
class Resident:
    name: str
    mobile: str
    id_number: str


def make_id_number(rng: random.Random, born: date) -> str:
    first17 = f"{rng.choice(AREA_PREFIXES)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + id_check_char(first17)


def make_resident(rng: random.Random) -> Resident:
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}"
    born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 66))
    return Resident(name, mobile, make_id_number(rng, born))


def resident_pool(seed: int, size: int) -> list[Resident]:
    """The same residents for a seed, so repeat reporters carry the same tokens."""
    rng = random.Random(f"residents-{seed}")
    return [make_resident(rng) for _ in range(size)]
