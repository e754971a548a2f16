"""The 城管局 property-management ledger: a planned, seeded evolution of compounds, enterprises,
committees and party organisations, replayed day by day.

Everything is drawn from RNGs keyed by (seed, entity) or (seed, day), so the ledger of day D does not
depend on the end date (prefix stability). Programme milestones follow quotas over the 2022 baseline
compounds (docs/simulated_data.md); churn (new compounds, enterprise changes, dissolutions,
removals) is drawn per day.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from .common import COUNTY_CODE, HISTORY_START, make_uscc, person_name, rng

D = dt.date
PROGRAMME = D(2023, 3, 6)
PROFESSIONAL, STATE, COMMUNITY, SELF, NONE = "专业化物业服务", "国有物业兜底", "社区托管", "业主自治管理", "无物业管理"

TOWNS = {"100": "城关镇", "400": "舒城县经济开发区", "106": "杭埠镇", "101": "晓天镇", "102": "桃溪镇",
         "103": "万佛湖镇", "104": "千人桥镇", "105": "百神庙镇", "107": "舒茶镇", "108": "南港镇",
         "109": "干汊河镇", "110": "张母桥镇", "111": "五显镇", "112": "山七镇", "113": "河棚镇", "114": "汤池镇",
         "200": "春秋乡", "201": "柏林乡", "202": "棠树乡", "203": "阙店乡", "204": "高峰乡", "205": "庐镇乡"}
COMMUNITY_NAMES = {"100": ["鼓楼", "梅河", "龙舒", "城北", "城南", "东门", "西门", "南溪", "古城", "桃园", "文昌", "春秋"],
                   "400": ["杭埠路", "万佛湖路", "乐业", "开元"], "106": ["杭埠", "三汊河"]}
NAME_A = ["龙舒", "梅河", "春秋", "万佛", "桃溪", "金色", "阳光", "幸福", "锦绣", "御景", "翡翠", "书香", "滨河", "紫金",
          "盛世", "东方", "丽景", "凤凰", "金域", "水岸", "桂花", "和平", "建设", "人民", "文化", "状元", "学府", "湖畔",
          "鼓楼", "城南", "龙津", "舒州", "玉兰", "香樟", "清华", "同心", "天润", "宏宇", "恒通", "华庭"]
NAME_B = ["花园", "小区", "家园", "苑", "名都", "华府", "新城", "公寓", "新村", "佳苑", "雅居", "天地", "壹号院", "尚城"]
ROADS = ["梅河路", "龙舒路", "鼓楼街", "城关大道", "桃溪路", "春秋路", "万佛湖路", "杭埠路", "巢湖路", "纬一路", "经三路", "舒州大道"]
ENT_A = ["安泰", "宜居", "恒安", "金盾", "和家", "绿城", "锦华", "嘉诚", "华润", "新地", "佳和", "瑞丰", "诚信", "万家",
         "康居", "百福", "天下", "龙腾", "益民", "舒心", "长安", "友邦", "丰泽", "欣然", "景瑞", "中环", "永安", "同创"]
OUT_AREAS = {"340104": "合肥", "340111": "合肥", "341502": "六安", "341503": "六安", "320106": "南京",
             "330106": "杭州", "440300": "深圳", "110105": "北京", "340102": "合肥"}
PROJECTS = ["楼道微改造", "红色议事厅", "老年助餐服务", "消防安全宣传", "垃圾分类督导", "便民维修服务日", "电动车集中充电改造",
            "绿化补植", "困难家庭帮扶", "党员志愿服务岗", "小区文化活动", "儿童托管驿站", "停车秩序整治", "安全隐患排查"]


def _d(r: random.Random, a: D, b: D) -> D:
    return a + dt.timedelta(days=r.randint(0, max(0, (b - a).days)))


def _quota(items: list, weights, schedule, r: random.Random) -> dict:
    """Assign dates by cumulative quotas: schedule = [(cum_fraction, start, end)] over sum(weights)."""
    total = sum(weights)
    out, cum, seg = {}, 0, 0
    for it, w in zip(items, weights, strict=False):
        while seg < len(schedule) and cum >= round(schedule[seg][0] * total):
            seg += 1
        if seg >= len(schedule):
            out[it] = None
        else:
            out[it] = _d(r, schedule[seg][1], schedule[seg][2])
        cum += w
    return out


@dataclass(eq=False)
class Community:
    code: str
    name: str
    town: str
    alliance: D | None
    joint: D | None


@dataclass(eq=False)
class Enterprise:
    idx: int
    uscc: str
    name: str
    area: str
    state_owned: bool
    legal_rep: str
    party_date: D | None
    party_type: str
    ledger: D


@dataclass(eq=False)
class Committee:
    id: str
    compound: str
    type: str
    terms: list  # [(start, end, members, party, director_cadre)]
    dissolved: D | None = None


@dataclass(eq=False)
class PartyOrg:
    id: str
    form: str
    compounds: list
    formed: D
    ended: D | None
    members: int
    secretary: str
    name: str


@dataclass(eq=False)
class Compound:
    id: str
    name: str
    community: Community
    address: str
    urban: bool
    households: int
    buildings: int
    built_year: int
    ledger: D
    service: list = field(default_factory=list)  # [(date, mode, uscc)] sorted
    removed: D | None = None

    def service_at(self, d: D):
        cur = None
        for s in self.service:
            if s[0] <= d:
                cur = s
            else:
                break
        return cur


class Ledger:
    """Seeded ledger; call `advance(day)` for each day in order, then `snapshot(day)`."""

    def __init__(self, seed: int, scale: int = 1):
        self.seed, self.k = seed, scale
        self.changes: set[D] = set()
        self._ids = {"XQ": 0, "YWH": 0, "DZB": 0, "GZXZ": 0, "LJ": 0}
        self._names: set[str] = set()
        self.committees: list[Committee] = []
        self.orgs: list[PartyOrg] = []
        self.agreements: dict[tuple[str, str], tuple[str, D]] = {}
        self.demos: list[tuple] = []
        self._plan()

    # ---------------------------------------------------------------- helpers
    def _id(self, prefix: str, width: int = 4) -> str:
        self._ids[prefix] += 1
        return f"{prefix}{self._ids[prefix]:0{width}d}"

    def _mark(self, *dates) -> None:
        self.changes.update(d for d in dates if d is not None)

    def _name(self, r: random.Random) -> str:
        for _ in range(50):
            n = r.choice(NAME_A) + r.choice(NAME_B)
            if n not in self._names:
                break
            n = n + r.choice(["二期", "三期", "东区", "西区", "北苑", "南苑"])
            if n not in self._names:
                break
        else:
            n = f"{n}{len(self._names)}"
        self._names.add(n)
        return n

    # ---------------------------------------------------------------- plan
    def _plan(self) -> None:
        k, seed = self.k, self.seed
        r = rng(seed, "registry", "plan")
        # communities
        self.communities: list[Community] = []
        towns = ["100", "400", "106"] if k == 1 else list(TOWNS)
        per_town = {"100": 12 * k, "400": 4 * k, "106": 2 * k}
        if k > 1:
            per_town = {t: max(1, (18 * k) // len(towns)) for t in towns}
        for t in towns:
            for i in range(1, min(per_town[t], 199) + 1):
                names = COMMUNITY_NAMES.get(t, [])
                name = (names[i - 1] if i <= len(names) else f"{TOWNS[t][:2]}第{i}") + "社区"
                in_scope = t in ("100", "400")
                rc = rng(seed, "community", t, i)
                alliance = (_d(rc, D(2022, 6, 1), D(2022, 12, 20)) if rc.random() < 0.3 else _d(rc, D(2023, 2, 1), D(2023, 6, 26))) if in_scope else _d(rc, D(2024, 3, 1), D(2024, 12, 20))
                joint = (_d(rc, D(2022, 5, 1), D(2022, 12, 20)) if rc.random() < 0.4 else _d(rc, D(2023, 2, 1), D(2023, 6, 28))) if in_scope else _d(rc, D(2024, 3, 1), D(2025, 6, 30))
                self.communities.append(Community(f"{COUNTY_CODE}{t}{i:03d}", name, t, alliance, joint))
                self._mark(alliance, joint)
        # enterprises
        self.enterprises: list[Enterprise] = []
        n_ent, n_out = 32 * k, 7 * k
        areas = list(OUT_AREAS)
        for i in range(n_ent):
            re_ = rng(seed, "enterprise", i)
            out = i >= n_ent - n_out
            state = i < k
            area = areas[i % len(areas)] if out else COUNTY_CODE
            prefix = "舒城县" if not out else OUT_AREAS[area] + ("市" if OUT_AREAS[area] not in ("合肥", "六安") else "")
            if state:
                name = f"舒城县城建物业管理有限公司{'' if i == 0 else i}"
            else:
                name = f"{prefix if not out else OUT_AREAS[area]}{ENT_A[i % len(ENT_A)]}{'' if i < len(ENT_A) else i}物业{re_.choice(['管理', '服务'])}有限公司"
                if not out and re_.random() < 0.3:
                    name = "安徽" + name[3:]
            self.enterprises.append(Enterprise(i, make_uscc(re_, area), name, area, state, person_name(re_),
                                               None, re_.choice(["独立党支部", "联合党支部"]),
                                               _d(re_, D(2012, 1, 1), D(2021, 12, 1))))
        order = list(range(n_ent))
        r.shuffle(order)
        dates = _quota(order, [1] * n_ent, [(0.25, D(2016, 1, 1), D(2021, 12, 31)), (0.30, D(2022, 1, 5), D(2022, 12, 20)),
                                           (0.58, D(2023, 4, 1), D(2023, 12, 25)), (0.92, D(2024, 1, 5), D(2024, 6, 20)),
                                           (0.97, D(2024, 7, 1), D(2024, 12, 20))], r)
        for i, d in dates.items():
            self.enterprises[i].party_date = d
            self._mark(d)
        self.by_uscc = {e.uscc: e for e in self.enterprises}
        self.ent_weights = [1.0 / (1 + (i % 11)) for i in range(n_ent)]
        self.ent_weights[:k] = [0.0] * k  # the state-owned company serves only as fallback
        # compounds: 132k at the start, 8k more in 2022, all urban; 3k non-urban 安置点
        self.compounds: list[Compound] = []
        scope_comms = [c for c in self.communities if c.town in ("100", "400")]
        other_comms = [c for c in self.communities if c.town not in ("100", "400")] or scope_comms
        base_n, n2022 = 132 * k, 8 * k
        for i in range(base_n + n2022):
            ledger = _d(r, D(2008, 1, 1), D(2021, 12, 1)) if i < base_n else _d(r, D(2022, 1, 10), D(2022, 12, 20))
            comm = r.choice(scope_comms) if r.random() < 0.93 else r.choice(other_comms)
            self.compounds.append(self._new_compound(r, comm, ledger, urban=True))
        for _ in range(3 * k):
            self.compounds.append(self._new_compound(rng(seed, "nonurban", len(self.compounds)), r.choice(other_comms),
                                                     _d(r, D(2015, 1, 1), D(2021, 6, 1)), urban=False))
        urban = [c for c in self.compounds if c.urban]
        # property service: 11k unserved at the start, 2k of them served during 2022 -> 9k at the baseline
        old_first = sorted(urban[:base_n], key=lambda c: (c.built_year, c.id))
        unserved = old_first[: 11 * k]
        unserved_ids = {c.id for c in unserved}
        for c in urban:
            if c.id not in unserved_ids:
                self._serve(r, c, c.ledger, PROFESSIONAL if r.random() < 0.9 else r.choice([STATE, COMMUNITY, SELF]))
        for c in self.compounds:
            if not c.urban:
                self._serve(r, c, c.ledger, r.choice([NONE, SELF, COMMUNITY]))
        r.shuffle(unserved)
        for j, c in enumerate(unserved):
            c.service.append((c.ledger, NONE, None))
            if j < 2 * k:
                when = _d(r, D(2022, 3, 1), D(2022, 11, 30))
            elif j < 8 * k:
                when = _d(r, D(2023, 3, 1), D(2023, 11, 30))
            else:
                when = _d(r, D(2024, 1, 8), D(2024, 3, 29))
            self._serve(r, c, when, r.choice([STATE, STATE, COMMUNITY, SELF]) if j >= 2 * k else PROFESSIONAL)
        # owners' committees over the baseline compounds, by quota
        prio = sorted(urban, key=lambda c: -c.households * r.uniform(0.3, 1.0))
        formed = _quota(prio, [1] * len(prio), [
            (0.30, D(2014, 1, 1), D(2021, 12, 31)), (0.335, D(2022, 1, 10), D(2022, 12, 20)),
            (0.64, D(2023, 3, 10), D(2023, 7, 28)), (0.69, D(2023, 8, 1), D(2023, 12, 28)),
            (0.87, D(2024, 1, 5), D(2024, 6, 28)), (0.93, D(2024, 7, 1), D(2024, 12, 28)),
            (0.97, D(2025, 1, 1), D(2025, 12, 31))], r)
        for c in prio:
            if formed[c] is not None:
                self._add_committee(c, max(formed[c], c.ledger + dt.timedelta(days=180)))
        # compound party branches: own branches for big compounds, joint (grid) branches for small neighbours
        units: list[list[Compound]] = []
        pending: dict[str, list[Compound]] = {}
        for c in sorted(urban, key=lambda c: (c.community.code, c.id)):
            if c.households >= 300:
                units.append([c])
            else:
                pending.setdefault(c.community.code, []).append(c)
                if len(pending[c.community.code]) == 3:
                    units.append(pending.pop(c.community.code))
        units.extend(v for _, v in sorted(pending.items()))
        r.shuffle(units)
        bdates = _quota([tuple(u) for u in units], [len(u) for u in units], [
            (0.20, D(2018, 1, 1), D(2021, 12, 31)), (0.25, D(2022, 2, 1), D(2022, 12, 20)),
            (0.56, D(2023, 3, 15), D(2023, 12, 25)), (0.90, D(2024, 1, 5), D(2024, 6, 28)),
            (0.95, D(2024, 7, 1), D(2024, 12, 28)), (0.98, D(2025, 1, 1), D(2025, 12, 31))], r)
        for u in units:
            when = bdates[tuple(u)]
            if when is not None:
                when = max(when, *(c.ledger + dt.timedelta(days=60) for c in u))
            if when is None or when > D(2023, 9, 30):
                for c in u:
                    if r.random() < 0.5:
                        g = _d(r, D(2023, 3, 10), D(2023, 9, 30))
                        if when is None or g < when:
                            self._add_org("党的工作小组", [c], g, when, r)
            if when is not None:
                self._add_org("小区党支部" if len(u) == 1 else "网格联合党支部", u, when, None, r)
        # demonstration titles (city and county level)
        demo_c = [c for c in prio if formed.get(c) and formed[c] < D(2023, 8, 1)]
        demo_e = sorted((e for e in self.enterprises if e.party_date and e.party_date < D(2023, 6, 1)),
                        key=lambda e: e.party_date)
        plan = [("小区", "市级", D(2023, 12, 20), 2), ("物业企业", "市级", D(2023, 12, 20), 2),
                ("小区", "县级", D(2023, 9, 28), 5), ("物业企业", "县级", D(2023, 9, 28), 3),
                ("小区", "市级", D(2024, 11, 28), 4), ("物业企业", "市级", D(2024, 11, 28), 3),
                ("小区", "县级", D(2024, 9, 26), 6), ("物业企业", "县级", D(2024, 9, 26), 3),
                ("小区", "市级", D(2025, 11, 27), 2), ("物业企业", "市级", D(2025, 11, 27), 2)]
        ci = ei = 0
        for j, (kind, level, when, n) in enumerate(plan):
            for _ in range(n * k):
                if kind == "小区" and ci < len(demo_c):
                    c = demo_c[ci]
                    ci += 1
                    title = "六安市“皖美红色物业”示范小区" if level == "市级" else "舒城县“舒美红色小区”"
                    self.demos.append((f"SF{j:02d}{ci:04d}", kind, c.id, c.name, level, title, when))
                elif kind == "物业企业" and ei < len(demo_e):
                    e = demo_e[ei]
                    ei += 1
                    title = "六安市“红色物业”示范企业" if level == "市级" else "舒城县“红色物业”示范企业"
                    self.demos.append((f"SF{j:02d}{ei + 5000:04d}", kind, e.uscc, e.name, level, title, when))
            self._mark(when)
        self.demo_compounds = {d[2] for d in self.demos if d[1] == "小区"}
        # service projects per enterprise and year (only those claimed after an agreement count)
        self.projects: dict[tuple[int, int], list] = {}

    def _new_compound(self, r: random.Random, comm: Community, ledger: D, urban: bool) -> Compound:
        cid = self._id("XQ")
        hh = int(min(4000, max(40, r.lognormvariate(6.0, 0.7))))
        built = min(ledger.year, r.randint(1992, 2021)) if ledger < D(2022, 1, 1) else ledger.year - r.randint(0, 1)
        addr = f"舒城县{TOWNS[comm.town]}{r.choice(ROADS)}{r.randint(1, 399)}号"
        c = Compound(cid, self._name(r) if urban else f"{TOWNS[comm.town][:2]}集中安置点{cid[-3:]}", comm, addr, urban,
                     hh, max(1, hh // r.randint(40, 120)), built, ledger)
        self._mark(ledger)
        return c

    def _pick_enterprise(self, r: random.Random, exclude: str | None = None) -> Enterprise:
        while True:
            e = r.choices(self.enterprises, weights=self.ent_weights)[0]
            if e.uscc != exclude:
                return e

    def _serve(self, r: random.Random, c: Compound, when: D, mode: str, ent: Enterprise | None = None) -> None:
        uscc = None
        if mode == PROFESSIONAL:
            uscc = (ent or self._pick_enterprise(r)).uscc
        elif mode == STATE:
            uscc = self.enterprises[r.randrange(self.k)].uscc
        c.service.append((when, mode, uscc))
        c.service.sort(key=lambda s: s[0])
        self._mark(when)

    def _add_committee(self, c: Compound, formed: D) -> None:
        rc = rng(self.seed, "committee", c.id, formed)
        ctype = "物业管理委员会" if rc.random() < 0.1 else "业主委员会"
        terms, start = [], formed
        while start.year < 2045:
            end = (start.replace(day=28) if start.month == 2 and start.day == 29 else start).replace(year=start.year + 5) - dt.timedelta(days=1)
            members = rc.choice([5, 5, 7, 7, 7, 9, 9, 11])
            share = rc.uniform(0.6, 0.9) if start >= PROGRAMME and rc.random() < 0.8 else rc.uniform(0.1, 0.59)
            terms.append((start, end, members, min(members, round(members * share + 0.49)),
                          start >= PROGRAMME and rc.random() < 0.35))
            self._mark(start)
            start = end + dt.timedelta(days=1)
        self.committees.append(Committee(self._id("YWH"), c.id, ctype, terms))

    def _add_org(self, form: str, comps: list, formed: D, ended: D | None, r: random.Random) -> None:
        prefix = "GZXZ" if form == "党的工作小组" else "DZB"
        oid = self._id(prefix)
        name = (comps[0].name + ("党的工作小组" if prefix == "GZXZ" else "党支部")) if len(comps) == 1 else \
            f"{comps[0].community.name}第{self._ids[prefix] % 50 + 1}网格联合党支部"
        secretary = r.choice(["社区班子成员兼任", "党员社区工作者兼任", "小区居民党员"])
        members = sum(max(3, c.households // r.randint(25, 60)) for c in comps)
        self.orgs.append(PartyOrg(oid, form, comps, formed, ended, members, secretary, name))
        self._mark(formed, ended)

    # ---------------------------------------------------------------- daily churn
    def advance(self, d: D) -> None:
        """Apply the random churn of day d (RNG keyed by seed and day). Call once per day, in order."""
        r = rng(self.seed, "registry-day", d)
        live = None

        def live_compounds():
            return [c for c in self.compounds if c.ledger <= d and c.removed is None and c.urban]

        for _ in range(self.k):
            if d >= D(2023, 1, 1) and r.random() < 5 / 365:  # a new compound enters the ledger
                comm = r.choice([c for c in self.communities if c.town in ("100", "400")])
                c = self._new_compound(r, comm, d, urban=True)
                self._serve(r, c, d, PROFESSIONAL)
                self.compounds.append(c)
                if r.random() < 0.5:
                    self._add_committee(c, d + dt.timedelta(days=r.randint(200, 700)))
                if r.random() < 0.6:
                    self._add_org("小区党支部", [c], d + dt.timedelta(days=r.randint(90, 500)), None, r)
            if r.random() < 4 / 365:  # a compound changes its property company
                live = live or live_compounds()
                pro = [c for c in live if (s := c.service_at(d)) and s[1] == PROFESSIONAL and s[0] < d]
                if pro:
                    c = r.choice(pro)
                    self._serve(r, c, d, PROFESSIONAL, self._pick_enterprise(r, exclude=c.service_at(d)[2]))
            if d >= D(2023, 1, 1) and r.random() < 1 / 365:  # the company leaves, state-owned fallback
                live = live or live_compounds()
                pro = [c for c in live if (s := c.service_at(d)) and s[1] == PROFESSIONAL and s[0] < d]
                if pro:
                    self._serve(r, r.choice(pro), d, STATE)
            if d >= D(2023, 4, 1) and r.random() < 1.5 / 365:  # a committee is dissolved, maybe re-formed later
                active = [cm for cm in self.committees if cm.dissolved is None and cm.terms[0][0] < d]
                if active:
                    cm = r.choice(active)
                    cm.dissolved = d
                    self._mark(d)
                    if r.random() < 0.8:
                        c = next(c for c in self.compounds if c.id == cm.compound)
                        self._add_committee(c, d + dt.timedelta(days=r.randint(60, 240)))
            if d >= D(2024, 1, 1) and r.random() < 0.4 / 365:  # a small compound is merged into a neighbour
                live = live or live_compounds()
                small = [c for c in live if c.households < 200 and c.id not in self.demo_compounds
                         and (s := c.service_at(d)) and s[1] != NONE]
                if small:
                    c = r.choice(small)
                    c.removed = d
                    self._mark(d)

    # ---------------------------------------------------------------- agreements and projects
    def _agreement(self, uscc: str, comm: Community, since: D) -> tuple[str, D] | None:
        key = (uscc, comm.code)
        if key not in self.agreements:
            ra = rng(self.seed, "agreement", uscc, comm.code)
            x = ra.random()
            if x < 0.2:
                when = _d(ra, D(2021, 6, 1), D(2022, 12, 20))
            elif x < 0.86:
                when = _d(ra, D(2023, 3, 20), D(2023, 12, 25))
            elif x < 0.98:
                when = _d(ra, D(2024, 1, 5), D(2024, 12, 20))
            else:
                when = _d(ra, D(2025, 1, 5), D(2026, 12, 20))
            when = max(when, since + dt.timedelta(days=ra.randint(20, 120)))
            if not hasattr(self, "_comm_index"):
                self._comm_index = {c.code: (i, c) for i, c in enumerate(self.communities)}
            ci = self._comm_index[comm.code][0]
            self.agreements[key] = (f"LJ{self.by_uscc[uscc].idx:04d}{ci:04d}", when)
            self._mark(when)
        return self.agreements[key]

    def _projects(self, e: Enterprise, year: int) -> list:
        key = (e.idx, year)
        if key not in self.projects:
            rp = rng(self.seed, "projects", e.uscc, year)
            p2 = {2022: 0.2, 2023: 0.6, 2024: 0.85}.get(year, 0.9 if year > 2024 else 0.1)
            n = rp.randint(2, 4) if rp.random() < p2 else rp.randint(0, 1)
            out = []
            for j in range(n):
                claimed = _d(rp, D(year, 2, 15), D(year, 11, 30))
                done = claimed + dt.timedelta(days=rp.randint(20, 200)) if rp.random() < 0.85 else None
                out.append((f"XM{year}{e.idx:04d}{j + 1:02d}", rp.choice(PROJECTS), claimed, done))
                self._mark(claimed, done)
            self.projects[key] = out
        return self.projects[key]

    # ---------------------------------------------------------------- snapshot
    def snapshot(self, d: D) -> dict[str, list[dict]]:
        """The ledger as of day d, one list of rows (dicts keyed by field name) per sheet feed id."""
        ent_by = self.by_uscc
        comps = [c for c in self.compounds if c.ledger <= d and (c.removed is None or c.removed > d)]
        comp_ids = {c.id for c in comps}
        rows_c, served, pairs = [], {}, {}
        for c in comps:
            s = c.service_at(d)
            mode, uscc = (s[1], s[2]) if s else (NONE, None)
            e = ent_by.get(uscc) if uscc else None
            if e:
                served[uscc] = served.get(uscc, 0) + 1
                pairs.setdefault((uscc, c.community.code), (c.community, s[0]))
            rows_c.append({"compound_id": c.id, "compound_name": c.name, "town_code": c.community.code[:9] + "000",
                           "town_name": TOWNS[c.community.town], "community_code": c.community.code,
                           "community_name": c.community.name, "address": c.address,
                           "is_urban_residential": "是" if c.urban else "否", "households": c.households,
                           "buildings": c.buildings, "built_year": c.built_year, "service_mode": mode,
                           "has_property_service": "否" if mode == NONE else "是", "enterprise_uscc": uscc,
                           "enterprise_name": e.name if e else None,
                           "service_start_date": s[0] if s and mode != NONE else None, "ledger_date": c.ledger})
        rows_e = []
        for e in self.enterprises:
            has = e.party_date is not None and e.party_date <= d
            rows_e.append({"enterprise_uscc": e.uscc, "enterprise_name": e.name, "registered_area_code": e.area,
                           "is_local": "是" if e.area == COUNTY_CODE else "否", "is_state_owned": "是" if e.state_owned else "否",
                           "legal_representative": e.legal_rep, "has_party_org": "是" if has else "否",
                           "party_org_type": e.party_type if has else None, "party_org_date": e.party_date if has else None,
                           "served_compounds": served.get(e.uscc, 0), "ledger_date": e.ledger})
        rows_m = [{"community_code": c.code, "community_name": c.name, "town_code": c.code[:9] + "000",
                   "town_name": TOWNS[c.town], "has_alliance": "是" if c.alliance and c.alliance <= d else "否",
                   "alliance_date": c.alliance if c.alliance and c.alliance <= d else None,
                   "has_joint_meeting": "是" if c.joint and c.joint <= d else "否",
                   "joint_meeting_date": c.joint if c.joint and c.joint <= d else None} for c in self.communities]
        rows_y = []
        for cm in self.committees:
            if cm.terms[0][0] > d or cm.compound not in comp_ids:
                continue
            no, term = max((i, t) for i, t in enumerate(cm.terms) if t[0] <= d)
            rows_y.append({"committee_id": cm.id, "compound_id": cm.compound, "committee_type": cm.type,
                           "formed_date": cm.terms[0][0], "term_no": no + 1, "term_start_date": term[0],
                           "term_end_date": term[1], "members": term[2], "party_members": term[3],
                           "director_is_community_cadre": "是" if term[4] else "否",
                           "status": "已解散" if cm.dissolved and cm.dissolved <= d else "正常履职",
                           "dissolved_date": cm.dissolved if cm.dissolved and cm.dissolved <= d else None})
        rows_y.sort(key=lambda x: x["committee_id"])
        rows_p = []
        for o in self.orgs:
            if o.formed > d or (o.ended is not None and o.ended <= d):
                continue
            for c in o.compounds:
                if c.id in comp_ids:
                    rows_p.append({"org_id": o.id, "compound_id": c.id, "org_form": o.form, "org_name": o.name,
                                   "formed_date": o.formed, "party_members": o.members, "secretary_source": o.secretary})
        rows_p.sort(key=lambda x: (x["org_id"], x["compound_id"]))
        rows_a, first_agreement = [], {}
        for (uscc, code), (comm, since) in sorted(pairs.items()):
            aid, when = self._agreement(uscc, comm, since)
            if when <= d:
                rows_a.append({"agreement_id": aid, "enterprise_uscc": uscc, "enterprise_name": ent_by[uscc].name,
                               "community_code": code, "community_name": comm.name, "signed_date": when})
                first_agreement[uscc] = min(first_agreement.get(uscc, when), when)
        # earlier agreements stay on file when the enterprise leaves the community
        for (uscc, code), (aid, when) in self.agreements.items():
            if when <= d and (uscc, code) not in pairs:
                comm = self._comm_index[code][1]
                rows_a.append({"agreement_id": aid, "enterprise_uscc": uscc, "enterprise_name": ent_by[uscc].name,
                               "community_code": code, "community_name": comm.name, "signed_date": when})
                first_agreement[uscc] = min(first_agreement.get(uscc, when), when)
        rows_a.sort(key=lambda x: x["agreement_id"])
        rows_s = []
        comm_of = {}
        for (uscc, code), _ in sorted(self.agreements.items()):
            comm_of.setdefault(uscc, code)
        for e in self.enterprises:
            fa = first_agreement.get(e.uscc)
            if fa is None:
                continue
            for year in range(max(2022, fa.year), d.year + 2):  # next year too, so its dates are marked early
                for pid, pname, claimed, done in self._projects(e, year):
                    if fa <= claimed <= d and year <= d.year:
                        rows_s.append({"project_id": pid, "enterprise_uscc": e.uscc, "community_code": comm_of[e.uscc],
                                       "project_name": pname, "claim_year": year, "claimed_date": claimed,
                                       "status": "已完成" if done and done <= d else "已认领",
                                       "completed_date": done if done and done <= d else None})
        rows_d = [{"title_id": t[0], "object_type": t[1], "object_id": t[2], "object_name": t[3], "title_level": t[4],
                   "title_name": t[5], "awarded_date": t[6]} for t in self.demos if t[6] <= d]
        return {"registry_communities": rows_m, "registry_compounds": rows_c, "registry_enterprises": rows_e,
                "registry_owners_committees": rows_y, "registry_party_orgs": rows_p, "registry_agreements": rows_a,
                "registry_service_projects": rows_s, "registry_demonstrations": rows_d}

    def serving_at(self, d: D) -> list[tuple[Compound, str, str | None]]:
        """(compound, mode, uscc) of every compound on the ledger on day d (hotline and credit use it)."""
        out = []
        for c in self.compounds:
            if c.ledger <= d and (c.removed is None or c.removed > d):
                s = c.service_at(d)
                out.append((c, s[1] if s else NONE, s[2] if s else None))
        return out


def start_ledger(seed: int, scale: int, upto: D) -> Ledger:
    """A ledger advanced through day `upto` (from 2022-01-01)."""
    led = Ledger(seed, scale)
    d = HISTORY_START
    while d <= upto:
        led.advance(d)
        d += dt.timedelta(days=1)
    return led
