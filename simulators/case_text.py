"""Appeal texts as residents write them: colloquial, uneven length, typos, mixed topics.

A text is assembled from an opener, where, what (one of several phrasings for the
category, sometimes two), how long it has lasted, how it affects the writer and what
they ask for. Now and then a second topic slips in and a character is swapped for a
homophone, as happens with phone input methods.
"""

from __future__ import annotations

import random

OPENERS = (
    "",
    "",
    "你好，",
    "您好！",
    "书记你好，",
    "领导好，",
    "麻烦问一下，",
    "我要反映个问题，",
    "再次投诉！",
    "不好意思打扰了，",
    "紧急！",
    "请相关部门看一下，",
    "我是附近的居民，",
)
PLACES = (
    "{c}{n}号楼下",
    "{c}菜市场门口",
    "{c}公交站旁边",
    "{c}小学附近",
    "{c}花园小区东门",
    "{c}工业园",
    "{c}城中村巷子里",
    "{c}地铁站B出口",
    "{c}新村{n}栋",
    "{c}路口",
    "我们{c}这边",
    "{c}商业街",
    "{c}幼儿园对面",
    "{c}社区公园",
)
DURATIONS = (
    "",
    "",
    "好几天了",
    "一个多月了",
    "从上周开始",
    "每天晚上都这样",
    "反映过很多次了",
    "已经三天了",
    "今天早上发现的",
    "最近一直这样",
    "半年多了都没人管",
)
EFFECTS = (
    "",
    "",
    "老人小孩走路很危险",
    "严重影响休息",
    "味道很大",
    "进出很不方便",
    "大家意见很大",
    "晚上根本睡不着",
    "存在很大安全隐患",
    "居民都很不满",
)
ASKS = (
    "",
    "希望尽快处理。",
    "请尽快派人来看看。",
    "麻烦管一管！！",
    "希望给个说法。",
    "谢谢！",
    "请相关部门处理，谢谢",
    "什么时候能解决？",
    "希望能彻底解决",
    "拜托了",
)
ISSUES: dict[str, tuple[str, ...]] = {
    "environment": (
        "路边堆满了建筑垃圾",
        "墙上到处是小广告",
        "绿化带里全是烟头和塑料袋",
        "有人在路边乱倒污水",
        "楼道里杂物堆积",
        "河边漂着很多垃圾",
        "广告牌破损快掉下来了",
        "树枝断了挂在半空",
        "路面油污一大片没人清洗",
    ),
    "street_vending": (
        "有人摆摊卖水果占了人行道",
        "夜市小摊把路都堵了",
        "流动摊贩在校门口卖烧烤",
        "店铺把货物摆到马路上",
        "早餐摊占道经营油烟很大",
        "三轮车停在路边卖菜",
        "商铺门口违规搭棚子卖东西",
    ),
    "noise": (
        "工地晚上十一点还在施工",
        "楼下广场舞音响开得很大",
        "隔壁装修天天电钻响",
        "酒吧音乐声太吵",
        "有人半夜在楼下喝酒吵闹",
        "商铺用大喇叭循环叫卖",
        "夜里有渣土车轰隆隆地开过",
        "KTV声音太大",
    ),
    "parking": (
        "有车停在消防通道上",
        "小区门口乱停车堵住了出口",
        "电动车乱停在盲道上",
        "有辆车占了人行道好几天",
        "路边双排停车导致堵车",
        "共享单车堆满了路口",
        "车停在公交站台里",
        "有辆僵尸车一直没人挪",
    ),
    "road_facility": (
        "路面塌陷了一个大坑",
        "红绿灯坏了不亮",
        "人行道地砖松动翘起",
        "路灯晚上不亮",
        "护栏被撞坏了",
        "斑马线都磨没了",
        "减速带坏了",
        "下雨天路面积水很深",
    ),
    "manhole": (
        "井盖不见了只剩一个洞",
        "井盖破损踩上去会晃",
        "下水道井盖移位了",
        "路中间井盖凹陷车过去咣咣响",
        "雨水井盖被偷了",
        "井盖翘起来差点绊倒人",
        "污水井冒水井盖被顶开了",
    ),
    "property": (
        "物业乱收停车费",
        "小区电梯经常坏物业不修",
        "物业不作为垃圾没人清",
        "业委会选举有问题",
        "物业费涨价没有公示",
        "楼顶漏水物业推来推去",
        "小区门禁坏了一个月",
        "物业把公共区域租出去了",
    ),
    "fire_safety": (
        "楼道里有人给电动车充电",
        "消防栓被埋了",
        "出租屋私拉电线很危险",
        "商铺把安全出口锁起来了",
        "灭火器都过期了",
        "有人在楼道里堆放煤气罐",
        "三小场所住人存在隐患",
    ),
    "labour": (
        "公司拖欠工资三个月了",
        "老板跑路了工资没发",
        "工厂不给买社保",
        "加班费一直不给",
        "被公司无故辞退没有补偿",
        "工地包工头欠薪不还",
        "试用期被扣工资",
    ),
    "garbage": (
        "垃圾桶满了好几天没人收",
        "垃圾站臭气熏天",
        "垃圾分类点没人管乱七八糟",
        "大件垃圾堆在路边没人清运",
        "垃圾车天天很早来很吵还漏臭水",
        "垃圾满出来了苍蝇很多",
        "厨余垃圾桶一直没清理",
    ),
}
# Homophone slips of pinyin input (wrong character, same sound).
TYPOS = {
    "在": "再",
    "的": "得",
    "已": "以",
    "做": "作",
    "坏": "怀",
    "理": "里",
    "很": "狠",
    "像": "象",
    "门": "们",
    "车": "车",
    "那": "哪",
}


def _place(rng: random.Random, community_name: str) -> str:
    short = community_name.removesuffix("社区")
    return rng.choice(PLACES).format(c=short, n=rng.randint(1, 30))


def _typo(rng: random.Random, text: str) -> str:
    positions = [i for i, ch in enumerate(text) if ch in TYPOS]
    if not positions:
        return text
    i = rng.choice(positions)
    return text[:i] + TYPOS[text[i]] + text[i + 1 :]


def compose(rng: random.Random, category: str, community_name: str) -> str:
    """One appeal text about ``category`` in ``community_name``."""
    parts = [rng.choice(OPENERS), _place(rng, community_name), rng.choice(ISSUES[category])]
    if rng.random() < 0.3:
        parts.append("，而且" + rng.choice(ISSUES[category]))
    if rng.random() < 0.12:
        other = rng.choice([c for c in ISSUES if c != category])
        parts.append("，还有" + rng.choice(ISSUES[other]))
    for pool in (DURATIONS, EFFECTS):
        piece = rng.choice(pool)
        if piece:
            parts.append("，" + piece)
    parts.append("。" if rng.random() < 0.7 else "")
    parts.append(rng.choice(ASKS))
    text = "".join(parts)
    if rng.random() < 0.25:
        text = _typo(rng, text)
    if rng.random() < 0.1:
        text = text.replace("，", " ")
    return text
