"""Shared helpers: deterministic RNGs, dates in Asia/Shanghai, working days, USCC codes, names."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from functools import lru_cache
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
HISTORY_START = dt.date(2022, 1, 1)
DEFAULT_SEED = 20230306
SCALES = {"county": 1, "city": 10, "province": 100}
COUNTY_CODE = "341523"


def yesterday_shanghai() -> dt.date:
    return dt.datetime.now(TZ).date() - dt.timedelta(days=1)


def rng(seed: int, *parts: object) -> random.Random:
    """An RNG that depends only on the seed and the given key parts (entity, date, ...)."""
    key = "|".join([str(seed), *map(str, parts)]).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def iso(ts: dt.datetime) -> str:
    """ISO-8601 with the +08:00 offset, second precision (sortable as text within one offset)."""
    return ts.astimezone(TZ).replace(microsecond=0).isoformat()


def local_dt(day: dt.date, seconds: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=TZ) + dt.timedelta(seconds=seconds)


@lru_cache(maxsize=8192)
def is_workday(day: dt.date) -> bool:
    """State Council calendar (调休 included) via chinese-calendar; plain weekdays outside its range."""
    try:
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day))
    except (NotImplementedError, ImportError):
        return day.weekday() < 5


@lru_cache(maxsize=8192)
def is_festival(day: dt.date) -> bool:
    """A statutory public holiday (春节, 国庆 ...), not an ordinary weekend."""
    try:
        import chinese_calendar

        on, name = chinese_calendar.get_holiday_detail(day)
        return bool(on and name)
    except (NotImplementedError, ImportError):
        return False


def add_workdays(ts: dt.datetime, n: int) -> dt.datetime:
    """The same clock time n working days later (end of that working day if ts falls off-day)."""
    day = ts.date()
    count = 0
    while count < n:
        day += dt.timedelta(days=1)
        if is_workday(day):
            count += 1
    return dt.datetime.combine(day, dt.time(17, 30), tzinfo=TZ)


# --- unified social credit codes (GB 32100-2015) -------------------------------------------------
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_uscc(r: random.Random, area: str) -> str:
    """A valid code; its check character from the pipeline's one implementation (`check: uscc`)."""
    from shumei.ingest.contracts import uscc_check_character

    org = "MA" + "".join(r.choice(USCC_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(7))
    body = "91" + area + org
    return body + uscc_check_character(body)


def corrupt_uscc(code: str) -> str:
    """Same code with a wrong check character (the bad-data switch `invalid_uscc`)."""
    last = code[-1]
    i = USCC_ALPHABET.index(last) if last in USCC_ALPHABET else 0
    return code[:-1] + USCC_ALPHABET[(i + 7) % 31]


# --- names --------------------------------------------------------------------------------------
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬飞鹏辉斌宇浩凯健俊帆帅旭宁龙林欣蕾婷雪慧颖琳晨阳春梅兵海波建国志华晓东庆松"


def person_name(r: random.Random) -> str:
    n = 1 if r.random() < 0.35 else 2
    return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(n))


PHONE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
                  "155", "156", "157", "158", "159", "177", "180", "181", "182", "183", "185", "186", "187",
                  "188", "189", "191", "199"]


def phone(r: random.Random) -> str:
    if r.random() < 0.06:  # a landline of 舒城 (0564)
        return "0564-" + str(r.randint(2000000, 8999999))
    return r.choice(PHONE_PREFIXES) + f"{r.randint(0, 99999999):08d}"


# --- enterprise conduct ---------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def enterprise_quality(seed: int, uscc: str) -> float:
    """A stable 0-1 service quality of an enterprise (most are decent, a few poor): it drives how often
    its complaints are found true on the hotline and its credit records (inspections, surveys, penalties)."""
    return rng(seed, "enterprise-quality", uscc).betavariate(3, 1.8)


def verified_share(seed: int, uscc: str | None) -> float:
    """Share of the complaints against an enterprise found true (查实): 0.4 % to about 6 %."""
    if uscc is None:
        return 0.0
    return 0.004 + 0.06 * (1 - enterprise_quality(seed, uscc)) ** 3
