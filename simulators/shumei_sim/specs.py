"""Field specifications of every feed: the one place the simulator's output and the contracts agree.

`shumei-sim contracts --out include/shumei/contracts` writes the machine-readable YAML contracts from
these specs (the pipeline reads the YAML, never this module).
"""

from __future__ import annotations

from dataclasses import dataclass, field

YES_NO = ["是", "否"]
SERVICE_MODES = ["专业化物业服务", "国有物业兜底", "社区托管", "业主自治管理", "无物业管理"]
SERVICE_MODE_CODES = {"专业化物业服务": "professional", "国有物业兜底": "state_fallback",
                      "社区托管": "community_managed", "业主自治管理": "self_managed", "无物业管理": "none"}


@dataclass
class F:
    name: str
    header: str
    type: str
    required: bool
    description: str
    zh: str | None = None
    allowed: list | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    check: str | None = None
    pii: bool = False
    references: str | None = None  # "<feed>.<field>": the value must be a key of that feed known on the day
    free_text: bool = False  # typed by operators: masked at the door (phones, ID numbers, names), original restricted
    not_future: bool | None = None  # None: dates/timestamps of things that happened (default), False: may lie ahead

    def to_dict(self) -> dict:
        d = {"name": self.name, "header": self.header, "zh": self.zh or self.header, "type": self.type,
             "required": self.required, "description": self.description}
        for k in ("allowed", "min", "max", "pattern", "check", "references"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        if self.pii:
            d["pii"] = True
        if self.free_text:
            d["free_text"] = True
        if self.type in ("date", "timestamp") and self.not_future is not False:
            d["not_future"] = True
        return d


@dataclass
class Feed:
    feed: str
    source: str
    format: str
    primary_key: list[str]
    fields: list[F]
    description: str
    sheet: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def headers(self) -> list[str]:
        return [f.header for f in self.fields]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def to_dict(self) -> dict:
        d = {"feed": self.feed, "version": 1, "source": self.source, "format": self.format}
        if self.sheet:
            d["sheet"] = self.sheet
        d["description"] = self.description
        d.update(self.extra)
        d["primary_key"] = self.primary_key
        d["fields"] = [f.to_dict() for f in self.fields]
        return d


DIV12 = r"^3415\d{8}$"
COMPOUND_ID = r"^XQ\d{4,6}$"
USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"
REGISTRY_LAYOUT = {
    "layout": "one workbook a day: <registry_dir>/YYYY-MM-DD/舒城县物业管理台账_YYYYMMDD.xlsx "
              "(--format csv: <registry_dir>/YYYY-MM-DD/<sheet>.csv, UTF-8); manifest.json written last",
    "snapshot": "full ledger as of the day; a row missing from a later day's ledger is deleted, a rejected row keeps "
                "its last accepted version (its figures estimated)",
    # DOMAIN §8: beyond this share of rejected rows (of the rows received) the batch blocks publication
    "max_reject_share": 0.05,
}

REGISTRY_SHEETS: list[Feed] = [
    Feed("registry_communities", "registry", "xlsx", ["community_code"], [
        F("community_code", "社区编码", "string", True, "12-digit statistical division code of the community (residents' committee)", pattern=DIV12, check="division_code"),
        F("community_name", "社区名称", "string", True, "community name"),
        F("town_code", "所属乡镇编码", "string", True, "12-digit division code of the town / 开发区", pattern=DIV12, check="division_code"),
        F("town_name", "所属乡镇", "string", True, "town name"),
        F("has_alliance", "是否纳入党建联盟", "string", True, "community covered by the town's 红色小区 party-building alliance", allowed=YES_NO),
        F("alliance_date", "纳入党建联盟日期", "date", False, "date the community joined the alliance"),
        F("has_joint_meeting", "是否建立社区联席会议", "string", True, "community joint-meeting system in place", allowed=YES_NO),
        F("joint_meeting_date", "建立联席会议日期", "date", False, "date the joint meeting was set up"),
    ], "Communities (社区) of the towns with urban compounds; LM_FG.", sheet="社区", extra={**REGISTRY_LAYOUT, "expect_rows": True}),
    Feed("registry_compounds", "registry", "xlsx", ["compound_id"], [
        F("compound_id", "小区编号", "string", True, "stable compound id of the ledger", pattern=COMPOUND_ID),
        F("compound_name", "小区名称", "string", True, "compound name"),
        F("town_code", "所属乡镇编码", "string", True, "12-digit division code of the town", pattern=DIV12, check="division_code"),
        F("town_name", "所属乡镇", "string", True, "town name"),
        F("community_code", "所属社区编码", "string", True, "12-digit division code of the community", pattern=DIV12, check="division_code", references="registry_communities.community_code"),
        F("community_name", "所属社区", "string", True, "community name"),
        F("address", "小区地址", "string", True, "street address"),
        F("is_urban_residential", "是否城市住宅小区", "string", True, "counts in the denominator of the coverage indicators", allowed=YES_NO),
        F("households", "总户数", "integer", True, "number of households", min=1, max=10000),
        F("buildings", "楼栋数", "integer", True, "number of buildings", min=1, max=300),
        F("built_year", "建成年份", "integer", True, "year built", min=1980, max=2035),
        F("service_mode", "物业服务模式", "string", True, "property-service mode; all but 无物业管理 count as property service (WY_FG numerator)", allowed=SERVICE_MODES),
        F("has_property_service", "是否实施物业管理", "string", True, "是 iff service_mode is not 无物业管理", allowed=YES_NO),
        F("enterprise_uscc", "物业服务企业统一社会信用代码", "string", False, "serving enterprise (专业化物业服务 and 国有物业兜底 only)", pattern=USCC_PATTERN, check="uscc", references="registry_enterprises.enterprise_uscc"),
        F("enterprise_name", "物业服务企业名称", "string", False, "serving enterprise name"),
        F("service_start_date", "现服务模式起始日期", "date", False, "since when the current mode / enterprise serves the compound"),
        F("ledger_date", "入账日期", "date", True, "date the compound entered the ledger"),
    ], "Residential compounds (小区) and their property service.", sheet="小区", extra={**REGISTRY_LAYOUT, "expect_rows": True}),
    Feed("registry_enterprises", "registry", "xlsx", ["enterprise_uscc"], [
        F("enterprise_uscc", "统一社会信用代码", "string", True, "unified social credit code (GB 32100-2015), the enterprise key", pattern=USCC_PATTERN, check="uscc"),
        F("enterprise_name", "企业名称", "string", True, "enterprise name"),
        F("registered_area_code", "注册地行政区划代码", "string", True, "6-digit registration area (USCC positions 3-8); not 341523 = registered outside the county", pattern=r"^\d{6}$"),
        F("is_local", "是否县内注册", "string", True, "registered in 341523", allowed=YES_NO),
        F("is_state_owned", "是否国有企业", "string", True, "state-owned (the fallback provider)", allowed=YES_NO),
        F("legal_representative", "法定代表人", "string", True, "legal representative (public registration data)"),
        F("has_party_org", "是否建立党组织", "string", True, "enterprise has its own or a joint party organisation (QYDZZ_ZJ numerator)", allowed=YES_NO),
        F("party_org_type", "党组织类型", "string", False, "kind of party organisation", allowed=["独立党支部", "联合党支部"]),
        F("party_org_date", "党组织建立日期", "date", False, "date the party organisation was set up"),
        F("served_compounds", "在管小区数", "integer", True, "compounds served in the county on the day (0 = on file, serving none)", min=0, max=100000),
        F("ledger_date", "入库日期", "date", True, "date the enterprise entered the ledger"),
    ], "Property-service enterprises (物业企业) on file with the county.", sheet="物业企业", extra={**REGISTRY_LAYOUT, "expect_rows": True}),
    Feed("registry_owners_committees", "registry", "xlsx", ["committee_id"], [
        F("committee_id", "业委会编号", "string", True, "stable committee id; a re-formed committee gets a new id", pattern=r"^YWH\d{4,7}$"),
        F("compound_id", "小区编号", "string", True, "compound", pattern=COMPOUND_ID, references="registry_compounds.compound_id"),
        F("committee_type", "组织类型", "string", True, "owners' committee or property-management committee (both count for YWH_FG)", allowed=["业主委员会", "物业管理委员会"]),
        F("formed_date", "成立日期", "date", True, "date formed"),
        F("term_no", "届次", "integer", True, "current term number (1 = first)", min=1, max=20),
        F("term_start_date", "本届任期起始日期", "date", True, "start of the current term (re-election date)"),
        F("term_end_date", "本届任期届满日期", "date", True, "end of the current term", not_future=False),
        F("members", "委员人数", "integer", True, "members of the current term", min=3, max=15),
        F("party_members", "党员委员人数", "integer", True, "party members among them (YWH_DY: share >= 60 %)", min=0, max=15),
        F("director_is_community_cadre", "主任是否社区两委成员", "string", True, "director is a member of the community committees", allowed=YES_NO),
        F("status", "状态", "string", True, "正常履职 active; 已解散 dissolved (row kept, counts no more)", allowed=["正常履职", "已解散"]),
        F("dissolved_date", "解散日期", "date", False, "date dissolved"),
    ], "Owners' committees (业主委员会 / 物业管理委员会).", sheet="业主委员会",
        extra={**REGISTRY_LAYOUT, "ordered": [["formed_date", "term_start_date"], ["formed_date", "dissolved_date"]]}),
    Feed("registry_party_orgs", "registry", "xlsx", ["org_id", "compound_id"], [
        F("org_id", "党组织编号", "string", True, "party organisation id (a joint/grid branch covers several compounds: one row per compound)", pattern=r"^(DZB|GZXZ)\d{4,7}$"),
        F("compound_id", "覆盖小区编号", "string", True, "compound covered", pattern=COMPOUND_ID, references="registry_compounds.compound_id"),
        F("org_form", "组织形式", "string", True, "own branch, joint/grid branch (both count for DZB_ZJ) or party work group (counted separately)", allowed=["小区党支部", "网格联合党支部", "党的工作小组"]),
        F("org_name", "党组织名称", "string", True, "name"),
        F("formed_date", "成立日期", "date", True, "date formed"),
        F("party_members", "党员人数", "integer", True, "party members", min=0, max=5000),
        F("secretary_source", "书记来源", "string", True, "where the secretary / group leader comes from", allowed=["社区班子成员兼任", "党员社区工作者兼任", "小区居民党员"]),
    ], "Compound party organisations (小区党组织); a work group row disappears when the branch is formed.", sheet="小区党组织", extra=REGISTRY_LAYOUT),
    Feed("registry_agreements", "registry", "xlsx", ["agreement_id"], [
        F("agreement_id", "协议编号", "string", True, "co-construction agreement id", pattern=r"^LJ\d{5,8}$"),
        F("enterprise_uscc", "企业统一社会信用代码", "string", True, "enterprise", pattern=USCC_PATTERN, check="uscc", references="registry_enterprises.enterprise_uscc"),
        F("enterprise_name", "企业名称", "string", True, "enterprise name"),
        F("community_code", "社区编码", "string", True, "community", pattern=DIV12, check="division_code", references="registry_communities.community_code"),
        F("community_name", "社区名称", "string", True, "community name"),
        F("signed_date", "签订日期", "date", True, "date signed (QY_LJ)"),
    ], "Party-building co-construction agreements (党建联建协议) between enterprises and communities.", sheet="党建联建协议", extra=REGISTRY_LAYOUT),
    Feed("registry_service_projects", "registry", "xlsx", ["project_id"], [
        F("project_id", "项目编号", "string", True, "claimed party-building service project", pattern=r"^XM\d{10,12}$"),
        F("enterprise_uscc", "企业统一社会信用代码", "string", True, "enterprise", pattern=USCC_PATTERN, check="uscc", references="registry_enterprises.enterprise_uscc"),
        F("community_code", "社区编码", "string", True, "community", pattern=DIV12, check="division_code", references="registry_communities.community_code"),
        F("project_name", "项目名称", "string", True, "project"),
        F("claim_year", "认领年度", "integer", True, "year claimed (QY_XM: >= 2 a year)", min=2020, max=2100),
        F("claimed_date", "认领日期", "date", True, "date claimed"),
        F("status", "项目状态", "string", True, "claimed or completed (updated in place)", allowed=["已认领", "已完成"]),
        F("completed_date", "完成日期", "date", False, "date completed"),
    ], "Party-building service projects claimed by enterprises (党建服务项目认领).", sheet="党建服务项目", extra=REGISTRY_LAYOUT),
    Feed("registry_demonstrations", "registry", "xlsx", ["title_id"], [
        F("title_id", "命名编号", "string", True, "title id", pattern=r"^SF\d{5,8}$"),
        F("object_type", "对象类型", "string", True, "compound or enterprise", allowed=["小区", "物业企业"]),
        F("object_id", "对象编号", "string", True, "compound id or enterprise USCC"),
        F("object_name", "对象名称", "string", True, "name"),
        F("title_level", "级别", "string", True, "city (SFD_XQ / SFD_QY count 市级) or county level", allowed=["市级", "县级"]),
        F("title_name", "称号", "string", True, "title"),
        F("awarded_date", "命名日期", "date", True, "date awarded"),
    ], "Demonstration titles (示范创建).", sheet="示范创建", extra=REGISTRY_LAYOUT),
]

EVENT_TYPES = {
    "RECEIVED": "已受理", "DIRECT_ANSWERED": "直接答复办结", "REJECTED": "不予受理", "MERGED": "重复件并案",
    "DISPATCHED": "已派单", "RETURNED": "退单", "SIGNED": "已签收", "CONTACTED": "已联系诉求人", "IN_PROGRESS": "办理中",
    "ESCALATED": "吹哨上报", "EXTENDED": "延期", "SUPERVISED": "督办", "REPLIED": "已回复",
    "CLOSED": "已办结", "VISITED": "已回访", "REOPENED": "重办",
}
CHANNELS = ["12345", "12319", "smart_platform"]
REQUEST_TYPES = ["咨询", "求助", "投诉", "举报", "建议", "感谢", "其他"]
URGENCIES = ["一般", "紧急", "特急"]
CATEGORIES = ["物业服务质量", "物业收费", "电梯故障", "供水排水", "消防安全", "环境卫生", "绿化养护", "停车管理",
              "门禁安保", "噪音扰民", "违章搭建", "装修管理", "公共收益", "维修资金", "业委会事务", "其他物业问题"]
SATISFACTION = ["满意", "基本满意", "不满意", "未评价"]
RESOLVED = ["已解决", "未解决", "未评价"]

HOTLINE_EVENTS = Feed("hotline_events", "hotline", "json", ["event_id"], [
    F("event_id", "event_id", "string", True, "immutable status-change event id (<order_id>-<seq>)", zh="事件编号"),
    F("order_id", "order_id", "string", True, "work order id", zh="工单编号"),
    F("event_seq", "event_seq", "integer", True, "1-based sequence of the event within the order", zh="事件序号", min=1, max=100),
    F("channel", "channel", "string", True, "intake channel", zh="受理渠道", allowed=CHANNELS),
    F("duplicate_of", "duplicate_of", "string", False, "for a 12319 copy of a 12345 complaint: the original order id (deduplicate)", zh="重复件原工单编号"),
    F("received_at", "received_at", "timestamp", True, "when the order was received", zh="受理时间"),
    F("request_type", "request_type", "string", True, "request type", zh="诉求类型", allowed=REQUEST_TYPES),
    F("category", "category", "string", True, "property-related category", zh="问题分类", allowed=CATEGORIES),
    F("urgency", "urgency", "string", True, "urgency (SLA)", zh="紧急程度", allowed=URGENCIES),
    F("compound_id", "compound_id", "string", False, "compound of the registry; null when the address could not be matched", zh="小区编号", pattern=COMPOUND_ID, references="registry_compounds.compound_id"),
    F("community_code", "community_code", "string", True, "12-digit community code", zh="社区编码", pattern=DIV12, check="division_code"),
    F("town_code", "town_code", "string", True, "12-digit town code", zh="乡镇编码", pattern=DIV12, check="division_code"),
    F("enterprise_uscc", "enterprise_uscc", "string", False, "enterprise serving the compound when received", zh="物业服务企业统一社会信用代码", pattern=USCC_PATTERN, check="uscc", references="registry_enterprises.enterprise_uscc"),
    F("caller_name", "caller_name", "string", True, "caller's name", zh="来电人姓名", pii=True),
    F("caller_phone", "caller_phone", "string", True, "caller's phone", zh="来电号码", pii=True),
    F("summary", "summary", "string", True, "summary of the request", zh="诉求摘要", free_text=True),
    F("event_type", "event_type", "string", True, "canonical status code of this event (DOMAIN §4; ESCALATED = 吹哨上报, an extension)", zh="事件类型", allowed=list(EVENT_TYPES)),
    F("raw_status", "raw_status", "string", True, "status as shown by the source system", zh="原始状态", allowed=list(EVENT_TYPES.values())),
    F("event_at", "event_at", "timestamp", True, "when the status change happened", zh="发生时间"),
    F("updated_at", "updated_at", "timestamp", True, "when it was recorded in the system (>= event_at; can be days later); the paging key", zh="记录时间"),
    F("due_at", "due_at", "timestamp", False, "current due time (null for terminal intake events)", zh="办理时限", not_future=False),
    F("new_due_at", "new_due_at", "timestamp", False, "EXTENDED only: the new due time", zh="延期后时限", not_future=False),
    F("escalation_level", "escalation_level", "integer", True, "highest 吹哨报到 level reached so far (1 residents, 2 community, 3 town)", zh="吹哨层级", min=1, max=3),
    F("satisfaction", "satisfaction", "string", False, "VISITED only: caller's satisfaction", zh="满意度", allowed=SATISFACTION),
    F("resolved_rating", "resolved_rating", "string", False, "VISITED only: caller's rating of resolution", zh="解决情况", allowed=RESOLVED),
    F("complaint_verified", "complaint_verified", "boolean", False, "REPLIED of a 投诉/举报: complaint found true (查实)", zh="是否查实"),
    F("operator_unit", "operator_unit", "string", True, "unit that recorded the event", zh="操作单位"),
    F("note", "note", "string", False, "free-text note of the handler", zh="处理意见", free_text=True),
], "Work-order status-change events of 12345, 12319 and the smart property platform (GET /api/v1/work-order-events).",
    extra={"endpoint": "GET /api/v1/work-order-events",
           "ordering": ["updated_at", "event_id"],
           "incremental_key": "updated_at",
           "updates": "events are immutable and never deleted; a later status is a new event",
           "ordered": [["received_at", "event_at"], ["event_at", "updated_at"]]})

CREDIT_EVENT_TYPES = {
    "RANDOM_INSPECTION": "双随机一公开检查", "COMPLAINT_VERIFIED": "投诉查实", "PENALTY": "行政处罚",
    "AWARD": "表彰奖励", "THIRD_PARTY_EVALUATION": "第三方服务评价", "SATISFACTION_SURVEY": "业主满意度测评",
    "PARTY_ANNUAL_EVALUATION": "社区党组织年度评价",
}
CREDIT_EVENTS = Feed("credit_events", "credit", "jsonl", ["credit_event_id"], [
    F("credit_event_id", "credit_event_id", "string", True, "credit record id", zh="信用记录编号", pattern=r"^XY\d{8}[0-9A-Z]{3,}\d{4}$"),
    F("enterprise_uscc", "enterprise_uscc", "string", True, "enterprise", zh="统一社会信用代码", pattern=USCC_PATTERN, check="uscc", references="registry_enterprises.enterprise_uscc"),
    F("enterprise_name", "enterprise_name", "string", True, "enterprise name", zh="企业名称"),
    F("event_type", "event_type", "string", True, "kind of record", zh="记录类型", allowed=list(CREDIT_EVENT_TYPES)),
    F("event_type_zh", "event_type_zh", "string", True, "kind of record in Chinese", zh="记录类型名称", allowed=list(CREDIT_EVENT_TYPES.values())),
    F("conduct", "conduct", "string", True, "good (守信), bad (失信) or neutral record", zh="信用性质", allowed=["守信", "失信", "中性"]),
    F("event_date", "event_date", "date", True, "date of the fact (inspection, decision, evaluation)", zh="发生日期"),
    F("record_date", "record_date", "date", True, "date recorded = the feed day", zh="记录日期"),
    F("result", "result", "string", False, "outcome as recorded", zh="结果"),
    F("score", "score", "number", False, "evaluation / survey score (0-100)", zh="得分", min=0, max=100),
    F("is_veto", "is_veto", "boolean", True, "one-vote veto item (forces grade C)", zh="是否一票否决"),
    F("compound_id", "compound_id", "string", False, "compound concerned", zh="小区编号", pattern=COMPOUND_ID, references="registry_compounds.compound_id"),
    F("related_order_id", "related_order_id", "string", False, "COMPLAINT_VERIFIED: the hotline work order", zh="关联工单编号"),
    F("document_no", "document_no", "string", False, "decision document number", zh="文书编号"),
    F("issuing_unit", "issuing_unit", "string", True, "unit that issued the record", zh="发布单位"),
    F("description", "description", "string", True, "text of the record", zh="记录内容", free_text=True),
], "Dated credit records of property enterprises (daily JSON-lines feed).",
    extra={"layout": "<credit_dir>/YYYY-MM-DD/credit_events.jsonl + manifest.json {date, rows, sha256, generated_at}; "
                     "manifest written last; empty day = empty file and rows 0",
           "updates": "records are append-only; a correction arrives as a new record",
           "ordered": [["event_date", "record_date"]]})

ALL_FEEDS = [*REGISTRY_SHEETS, HOTLINE_EVENTS, CREDIT_EVENTS]
