"""Appeal texts as residents write them: colloquial, uneven length, typos, mixed topics.

A text is assembled from an opener, where, what (one of several phrasings for the
category, sometimes two), how long it has lasted, how it affects the writer and what
they ask for. Now and then a second topic slips in and a character is swapped for a
homophone, as happens with phone input methods.

The handling department's answer (``feedback``) is assembled the same way from the parts
of a published 12345 reply, with the measures each category's departments take.
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


# --- the handling department's answer to the resident (反馈) ---------------------------------
#
# Answers follow the shape of published 12345 replies: a greeting, what was asked, what the
# department found and did on site, what follows, a closing line. Most report the problem
# solved; some say it could not be found on site, is being handled in stages, or belongs to
# another party — answers a resident receives as often as a clean fix.

FEEDBACK_GREETINGS = ("市民您好，", "您好！", "尊敬的市民：", "")
FEEDBACK_RECEIVED = (
    "您反映的{c}{name}问题已收悉。",
    "关于您反映的{c}{name}问题，",
    "您于{date}反映的{name}问题，",
    "您通过平台反映的{c}{name}问题，",
)
FEEDBACK_SITE = (
    "经{dept}会同{c}社区工作站工作人员现场核查，",
    "{dept}接单后立即安排人员到现场查看，",
    "经{dept}工作人员实地核实，",
    "{c}社区网格员与{dept}联合到场处置，",
)
FEEDBACK_ACTIONS: dict[str, tuple[str, ...]] = {
    "environment": (
        "已安排环卫人员对现场垃圾和杂物进行清理，路面已冲洗干净。",
        "已清除墙面小广告，并对周边商户进行了宣传教育。",
        "破损广告牌已拆除，断枝已由园林部门修剪清运。",
        "已责令倾倒污水的商户立即整改，并依法予以警告。",
    ),
    "street_vending": (
        "已对占道经营摊贩进行劝离，并依法暂扣部分经营工具。",
        "已责令店主将货物搬回店内，恢复人行道通行。",
        "已将该路段列入重点巡查点位，早晚高峰安排专人值守。",
        "已引导流动摊贩到指定疏导点经营，违规搭建的棚子已拆除。",
    ),
    "noise": (
        "已责令施工单位停止夜间施工，夜间施工须依法办理许可。",
        "已与广场舞队伍负责人沟通，音响音量已调低并调整了活动时间。",
        "已对涉事酒吧进行噪声监测并下达整改通知，要求加装隔音设施。",
        "已告知装修业主施工时间规定，业主承诺按规定时段施工。",
    ),
    "parking": (
        "涉事车辆已依法贴单处罚，并联系车主将车辆挪离。",
        "已对占用消防通道的车辆进行拖移，通道已恢复畅通。",
        "已协调共享单车企业清运堆积车辆，并增加该点位调度频次。",
        "已在该路段增设禁停标志，后续将加强巡逻管控。",
    ),
    "road_facility": (
        "已对路面坑槽进行临时围蔽，并安排养护单位完成修补。",
        "故障信号灯已由维护单位抢修，现已恢复正常运行。",
        "松动地砖已重新铺设，破损护栏已更换。",
        "路灯线路故障已排除，现已恢复照明。",
    ),
    "manhole": (
        "已对缺失井盖处设置警示围挡，并于当日补装新井盖。",
        "破损井盖已更换，权属单位已完成井座加固。",
        "移位井盖已复位，并对周边井盖进行了排查。",
        "已联系权属单位对凹陷井盖进行维修，现已恢复平整。",
    ),
    "property": (
        "已约谈小区物业服务企业，要求其限期整改并公示收费依据。",
        "已督促物业对电梯进行维修，并要求建立定期维保台账。",
        "已召集业主代表、物业和社区三方协调，双方达成处理意见。",
        "已责令物业收回被出租的公共区域，相关收益按规定归全体业主。",
    ),
    "fire_safety": (
        "已清理楼道内违规充电的电动车，并张贴禁止楼道充电的告示。",
        "已责令商铺立即打开安全出口，并依法下达整改通知书。",
        "已对出租屋私拉电线进行整改，排除了火灾隐患。",
        "已督促物业更换过期灭火器，消防栓已清理恢复使用。",
    ),
    "labour": (
        "已约谈用人单位负责人，责令其限期支付拖欠工资。",
        "已立案调查，并指导您通过劳动仲裁途径依法维权。",
        "经协调，用人单位已同意补缴社保并支付加班费。",
        "已联系施工总包单位，欠薪已由总包单位先行垫付。",
    ),
    "garbage": (
        "已协调环卫公司对满溢垃圾桶进行清运，并增加收运频次。",
        "已对垃圾站进行冲洗消杀，并调整了收运作业时间。",
        "大件垃圾已清运完毕，分类点已安排督导员值守。",
        "已要求收运车辆加装防滴漏装置，避免污水滴漏。",
    ),
}
# Answers that do not report a clean fix (about one in six).
FEEDBACK_OTHER = (
    "到场时未发现您所反映的情况，已将该点位纳入日常巡查，如再次发现请及时反映。",
    "该问题涉及多个部门，目前已制定整改方案，将分阶段推进处理。",
    "该问题已列入辖区年度整治计划，相关工作正在推进中，请您耐心等待。",
    "已向当事人宣传相关法规，当事人表示将自行整改，我们将持续跟进。",
)
FEEDBACK_FOLLOW = ("", "", "后续我们将加强巡查，防止问题反复。", "如仍有问题，请及时与我们联系。")
FEEDBACK_CLOSINGS = ("感谢您对我们工作的理解与支持！", "感谢您的监督！", "谢谢您的反映。", "")


def feedback(
    rng: random.Random, category: str, category_name: str, department: str, community_name: str, on: str
) -> str:
    """The answer ``department`` gives the resident about a case of ``category`` in
    ``community_name``, reported on ``on`` (e.g. ``11月25日``)."""
    short = community_name.removesuffix("社区")
    action = rng.choice(FEEDBACK_OTHER) if rng.random() < 0.16 else rng.choice(FEEDBACK_ACTIONS[category])
    parts = (
        rng.choice(FEEDBACK_GREETINGS),
        rng.choice(FEEDBACK_RECEIVED).format(c=short, name=category_name, date=on),
        rng.choice(FEEDBACK_SITE).format(dept=department, c=short),
        action,
        rng.choice(FEEDBACK_FOLLOW),
        rng.choice(FEEDBACK_CLOSINGS),
    )
    return "".join(parts)
