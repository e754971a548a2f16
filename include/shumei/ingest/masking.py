"""Masking of free text at the door (DOMAIN §8): phone numbers, ID numbers and names that operators type
into order summaries and notes are replaced before the text is written anywhere outside
raw_restricted; the original is kept in raw_restricted.<feed>_pii only.

The one home of the rule: the loader calls `mask_free_text` for every field the contract marks
`free_text: true`, on both of its paths. What is masked:
- every run of 7 or more digits (half- or full-width), also split by spaces, hyphens or dots, with an
  optional +86 and area code in brackets: mobile and fixed-line numbers, 身份证 numbers (18 characters,
  the last may be X), bank cards. 身份证 → [身份证号], 11-digit mobiles → [手机号], the rest → [号码];
- a name after a word that introduces a person (联系人, 来电人, 诉求人, 业主, 姓名 ...): after a colon,
  是 or 为 any two or three Chinese characters; directly after the word only a name that starts with a
  common surname; and anywhere a surname followed by 先生, 女士, 小姐, 师傅 or 阿姨 → [姓名].
Masking errs on the side of hiding: a word read as a name is hidden too. Amounts, years and ids of
fewer than 7 digits (物业费3000元, 2023年, XQ0012) stay.
"""

from __future__ import annotations

import re

# full-width forms read as their ASCII twins (one character for one, so positions stay)
_HALF = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "Ｘ": "X", "ｘ": "x", "＋": "+",
                       "－": "-", "—": "-", "–": "-", "（": "(", "）": ")", "\u3000": " ", "．": ".", "·": "."})

_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[ -]?)?(?:\(0\d{2,3}\)[ -]?)?\d(?:[ .-]?\d){6,}(?:[ .-]?[Xx])?(?![0-9A-Za-z])")

# the commonest surnames (about 85 % of people), single characters
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
             "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
             "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴"
             "霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑"
             "景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝")
_HAN = "\u4e00-\u9fff"
_TRIGGER = "联系人|来电人|诉求人|反映人|投诉人|举报人|求助人|当事人|申请人|业主|户主|住户|租户|居民|姓名|称呼"
_HONORIFIC = "先生|女士|小姐|师傅|阿姨|大爷|大妈|老师"
# where a name ends: not a Chinese character, or a word that follows names in summaries
_NAME_END = rf"(?=[^{_HAN}]|$|电话|手机|号码|联系|反映|来电|投诉|表示|称|说|要求|家)"
NUMBER_ID, NUMBER_MOBILE, NUMBER_OTHER, NAME = "[身份证号]", "[手机号]", "[号码]", "[姓名]"


def _number_label(match: str) -> str:
    plain = re.sub(r"[^0-9Xx]", "", match)
    if match.startswith(("+86", "86")) and len(plain) == 13:
        plain = plain[2:]
    if len(plain) == 18 and plain[:17].isdigit():
        return NUMBER_ID
    if len(plain) == 11 and plain.startswith("1"):
        return NUMBER_MOBILE
    return NUMBER_OTHER


_TRIGGERED_NAME = re.compile(
    rf"({_TRIGGER})([:： ]{{0,2}})(是|为)?("
    rf"[{_SURNAMES}][{_HAN}]?(?:{_HONORIFIC})"
    rf"|[{_HAN}]{{2,3}}?{_NAME_END}"
    rf")")
_HONORED_NAME = re.compile(rf"[{_SURNAMES}](?:{_HONORIFIC})")


def _names(text: str) -> str:
    def triggered(m: re.Match) -> str:
        word, colon, copula, name = m.group(1), m.group(2), m.group(3) or "", m.group(4)
        explicit = bool(colon.strip(" ")) or bool(copula)
        if not explicit and name[0] not in _SURNAMES:
            return m.group(0)  # 来电人反映 ...: no name follows
        return f"{word}{colon}{copula}{NAME}"

    return _HONORED_NAME.sub(NAME, _TRIGGERED_NAME.sub(triggered, text))


def mask_free_text(text: str | None) -> str | None:
    """The text with phone numbers, ID numbers and names replaced by labels (None stays None)."""
    if not text:
        return text
    probe = text.translate(_HALF)
    if probe != text or _NUMBER.search(probe):
        out, last = [], 0
        for m in _NUMBER.finditer(probe):
            out += [text[last:m.start()], _number_label(m.group(0))]
            last = m.end()
        text = "".join(out) + text[last:]
    return _names(text)
