"""A synthetic Chinese corpus of work titles and tags, deterministic by seed: for the recall tests, the benchmark
and demo data. Titles are built from a few hundred common words and phrases with a skewed (Zipf-like) choice,
so some characters and words are very common and others rare, as in real titles."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NOUNS = _words(
    "少女 少年 剑客 侠客 书生 公主 王子 将军 皇帝 掌门 师父 徒弟 魔王 勇者 猫咪 狐狸 白狐 青龙 凤凰 麒麟 "
    "机器人 机甲 星舰 飞船 宇航员 侦探 医生 画师 厨师 歌姬 偶像 学生 老师 店长 骑士 法师 精灵 妖怪 鬼魂 "
    "茶馆 客栈 书院 学园 宫殿 古城 小镇 江湖 仙山 海岛 沙漠 森林 雪山 星空 月亮 太阳 樱花 梅花 竹林 "
    "长安 洛阳 江南 东京 上海 杭州 西湖 昆仑 蜀山 天宫 龙宫 地府 未来 末日 异世界 平行世界 时光 梦境 "
    "记忆 约定 秘密 誓言 传说 故事 日记 信件 钥匙 宝剑 玉佩 琴声 灯笼 风筝 雨伞 列车 咖啡馆 便利店 "
    "图书馆 天台 教室 花园 庭院 码头 渡口 灯塔 钟楼 雨夜 黄昏 清晨 午后 深夜 冬日 夏天 秋风 春雨"
)
ADJECTIVES = _words(
    "孤独的 勇敢的 神秘的 温柔的 倔强的 失落的 遥远的 最后的 第一个 永恒的 破碎的 闪耀的 沉睡的 燃烧的 "
    "迷路的 会说话的 不存在的 被遗忘的 看不见的 小小的 古老的 新来的 隔壁的 天才 落魄 傲娇 腹黑 元气 "
    "冷面 呆萌 热血 治愈 无敌"
)
VERBS = _words(
    "遇见 寻找 守护 拯救 等待 追逐 告别 回到 穿越 逃离 征服 挑战 重生 觉醒 相爱 出发 归来 迷失 修行 "
    "成为 打败 邂逅 探索 继承 守望"
)
PATTERNS = (
    "{adj}{noun}", "{noun}与{noun2}", "{noun}的{noun2}", "{verb}{noun}", "在{noun}{verb}{noun2}",
    "{adj}{noun}{verb}{noun2}", "{noun}物语", "{noun}传", "{noun}奇谭", "{noun}日常", "我的{noun}是{noun2}",
    "{noun}{num}号", "{noun}：{adj}{noun2}", "从{noun}到{noun2}", "{adj}{noun}与{adj2}{noun2}",
)
TAGS = _words(
    "古风 仙侠 武侠 科幻 悬疑 推理 恋爱 校园 日常 治愈 热血 冒险 奇幻 都市 历史 喜剧 悲剧 恐怖 机甲 末日 "
    "穿越 重生 宫廷 江湖 萌宠 美食 音乐 运动 职场 家庭 友情 成长 赛博朋克 蒸汽朋克 童话 神话 短篇 条漫 四格 原创"
)


@dataclass(frozen=True)
class Doc:
    n: int
    title: str
    tags: tuple[str, ...]


def _zipf(rng: random.Random, items: tuple[str, ...] | list[str], s: float = 1.1) -> str:
    # Rank r is chosen with weight 1/r^s; cumulative weights are cached per list.
    key = (id(items), s)
    cum = _CUM.get(key)
    if cum is None:
        total = 0.0
        cum = []
        for r in range(1, len(items) + 1):
            total += 1 / r**s
            cum.append(total)
        _CUM[key] = cum
    x = rng.random() * cum[-1]
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return items[lo]


_CUM: dict[tuple[int, float], list[float]] = {}


def title(rng: random.Random) -> str:
    pattern = rng.choice(PATTERNS)
    return pattern.format(
        adj=_zipf(rng, ADJECTIVES), adj2=_zipf(rng, ADJECTIVES), noun=_zipf(rng, NOUNS), noun2=_zipf(rng, NOUNS),
        verb=_zipf(rng, VERBS), num=rng.randint(1, 999),
    )[:80]


def documents(count: int, *, seed: int = 5) -> Iterator[Doc]:
    rng = random.Random(seed)
    for n in range(count):
        tags = tuple(dict.fromkeys(_zipf(rng, TAGS, 0.9) for _ in range(rng.randint(0, 3))))
        yield Doc(n, title(rng), tags)


def sample_queries(docs: list[Doc], *, count: int, seed: int = 7) -> list[str]:
    """Queries drawn from the corpus: a third each of one-, two- and three-to-five-character substrings."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        runs = re.findall("[\u4e00-\u9fff]+", rng.choice(docs).title)
        length = (1, 2, rng.randint(3, 5))[len(out) % 3]
        runs = [r for r in runs if len(r) >= length]
        if not runs:
            continue
        text = rng.choice(runs)
        start = rng.randint(0, len(text) - length)
        out.append(text[start:start + length])
    return out
