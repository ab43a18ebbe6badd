"""The places and airlines of the simulated world, drawn from the `airportsdata` reference set.

Every fact about a real airport (its name, city, country, coordinates, time zone and
metropolitan area) comes from the dataset. What is the simulator's own choice is declared
here: which airports, carriers and hotel cities make a world of a given size, the carriers'
hubs, the hotel cities' streets and districts and price levels, and the currency each
country's prices are published in.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import airportsdata

# The airports of the default world (scale 1), in the order worlds take them.
SCALE_ONE_AIRPORTS = (
    "LHR", "LGW", "CDG", "ORY", "FRA", "MUC", "AMS", "MAD", "BCN", "FCO",
    "DUB", "ZRH", "VIE", "CPH", "LIS", "ATH", "IST", "EDI", "MAN", "JFK",
    "EWR", "BOS", "ATL", "MIA", "DFW", "DEN", "LAX", "SFO", "SEA", "LAS",
    "YVR", "MEX", "DXB", "DOH", "SIN", "HKG", "BKK", "DEL", "BOM", "SYD",
)  # fmt: skip

# IATA's New York area includes Newark; the dataset's list of metropolitan codes does not.
METRO_ADDITIONS = {"EWR": "NYC"}

# Real carriers and their hubs, `carrier hub hub ...` separated by semicolons, the default
# world's ten first; a world of N carriers flies the first N with a hub among its airports.
_CARRIER_TABLE = """
BA LHR LGW;AF CDG ORY;LH FRA MUC;UA EWR SFO DEN;DL ATL JFK LAX SEA;AA DFW MIA JFK LAX;EK DXB
IB MAD;KL AMS;AZ FCO
QR DOH;EY AUH;TK IST;LX ZRH;OS VIE;SK CPH ARN OSL;AY HEL;EI DUB;TP LIS;A3 ATH;LO WAW;SN BRU
VS LHR MAN;U2 LGW;FR STN DUB;W6 BUD;VY BCN;DY OSL;EW DUS CGN;UX MAD;AC YYZ YVR YUL;WS YYC
AS SEA;B6 JFK BOS;WN DAL MDW;HA HNL;AM MEX;LA SCL LIM GRU;AV BOG;CM PTY;AR AEP EZE;G3 GRU
AD VCP;ET ADD;KQ NBO;SA JNB;MS CAI;AT CMN;RJ AMM;SV JED RUH;WY MCT;GF BAH;KU KWI
AI DEL BOM;6E DEL BOM BLR;UL CMB;PK KHI;BG DAC;TG BKK;VN SGN HAN;MH KUL;GA CGK;PR MNL
BR TPE;CI TPE;CX HKG;SQ SIN;NH HND NRT;JL HND NRT;KE ICN;OZ ICN;CA PEK;MU PVG;CZ CAN
QF SYD MEL;VA BNE SYD;NZ AKL;FJ NAN;JQ MEL;TR SIN;AK KUL;5J MNL;HU PEK HAK;3U CTU;FM SHA
MF XMN;ZH SZX;HX HKG;7C GMP;MM KIX;F9 DEN;NK FLL;G4 LAS;SY MSP;PD YTZ;Y4 MEX;VB MTY;H2 SCL
LY TLV;PC SAW;FZ DXB;G9 SHJ;WB KGL;AH ALG;TU TUN;MK MRU;BT RIX;JU BEG;RO OTP;FI KEF;HY TAS
KC ALA;J2 GYD;PG BKK;VJ SGN;BI BWN;TN PPT;PX POM
"""


def _parse_hubs(table: str) -> dict[str, tuple[str, ...]]:
    entries = (entry.split() for entry in table.replace("\n", ";").split(";"))
    return {codes[0]: tuple(codes[1:]) for codes in entries if codes}


CARRIER_HUBS = _parse_hubs(_CARRIER_TABLE)

# The currency prices are published in, by country; any other country's in US dollars.
CURRENCY_BY_COUNTRY = {
    "GB": "GBP", "US": "USD", "CH": "CHF", "DK": "DKK", "SE": "SEK", "NO": "NOK",
    "IS": "ISK", "PL": "PLN", "CZ": "CZK", "HU": "HUF", "RO": "RON", "RS": "RSD",
    "TR": "TRY", "CA": "CAD", "MX": "MXN", "BR": "BRL", "AR": "ARS", "CL": "CLP",
    "CO": "COP", "PE": "PEN", "AE": "AED", "QA": "QAR", "SA": "SAR", "OM": "OMR",
    "BH": "BHD", "KW": "KWD", "IL": "ILS", "JO": "JOD", "EG": "EGP", "MA": "MAD",
    "ZA": "ZAR", "KE": "KES", "NG": "NGN", "IN": "INR", "PK": "PKR", "LK": "LKR",
    "BD": "BDT", "TH": "THB", "VN": "VND", "MY": "MYR", "ID": "IDR", "PH": "PHP",
    "SG": "SGD", "HK": "HKD", "TW": "TWD", "JP": "JPY", "KR": "KRW", "CN": "CNY",
    "AU": "AUD", "NZ": "NZD",
    **dict.fromkeys(
        ("AT", "BE", "BG", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT",
         "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK"),
        "EUR",
    ),
}  # fmt: skip
# Rough units of each currency per US dollar: prices are modelled in USD, published locally.
USD_RATE = {
    "USD": 1.0, "GBP": 0.79, "EUR": 0.92, "AED": 3.67, "CHF": 0.88, "DKK": 6.87,
    "TRY": 34.0, "SGD": 1.35, "HKD": 7.8, "THB": 35.5, "AUD": 1.53, "SEK": 10.5,
    "NOK": 10.8, "ISK": 138.0, "PLN": 3.95, "CZK": 23.0, "HUF": 365.0, "RON": 4.6,
    "RSD": 108.0, "CAD": 1.37, "MXN": 18.5, "BRL": 5.5, "ARS": 1000.0, "CLP": 950.0,
    "COP": 4000.0, "PEN": 3.7, "QAR": 3.64, "SAR": 3.75, "OMR": 0.385, "BHD": 0.376,
    "KWD": 0.307, "ILS": 3.7, "JOD": 0.709, "EGP": 49.0, "MAD": 9.9, "ZAR": 18.0,
    "KES": 129.0, "NGN": 1550.0, "INR": 84.0, "PKR": 278.0, "LKR": 300.0, "BDT": 120.0,
    "VND": 25000.0, "MYR": 4.5, "IDR": 16000.0, "PHP": 57.0, "TWD": 32.0, "JPY": 150.0,
    "KRW": 1380.0, "CNY": 7.2, "NZD": 1.68,
}  # fmt: skip

# Hotel cities beyond the table below get these: plausible anywhere, if not local.
GENERIC_STREETS = (
    "Main Street", "Station Road", "Harbour Road", "Market Street", "Park Avenue",
    "Church Street", "Airport Road", "River Road",
)  # fmt: skip
GENERIC_AREAS = (
    "City Centre",
    "Old Town",
    "Riverside",
    "Business District",
    "Airport",
    "University Quarter",
)
# Their price level, spread deterministically over this range.
GENERIC_PRICE_FACTORS = (0.6, 1.3)


@dataclass(frozen=True, slots=True)
class Airport:
    code: str
    metro: str  # IATA metropolitan code where one exists, else the airport code
    city: str
    country: str
    lat: float
    lon: float
    time_zone: str  # IANA
    utc_offset_h: float  # standard time: puts departures at plausible local hours all year


@dataclass(frozen=True, slots=True)
class City:
    code: str  # the metropolitan or airport code the city's hotels are listed under
    name: str
    currency: str
    lat: float
    lon: float
    price_factor: float
    streets: tuple[str, ...]
    areas: tuple[str, ...]


def standard_offset_h(time_zone: str) -> float:
    """The zone's offset without daylight saving: the smaller of its January and July ones."""
    zone = ZoneInfo(time_zone)
    offsets = (datetime(2025, month, 15, tzinfo=zone).utcoffset() for month in (1, 7))
    return min(offset.total_seconds() for offset in offsets if offset is not None) / 3600


def _stable_rank(code: str) -> str:
    """An order that looks random but depends on the code alone, not on the dataset's rows."""
    return hashlib.sha256(code.encode()).hexdigest()


def _airport_order(rows: dict[str, airportsdata.Airport], metros: dict[str, str]) -> list[str]:
    """Every airport a world may use, in the order worlds of growing size take them.

    The dataset has no traffic figures, so size is approximated: the default world's airports,
    then the carriers' hubs, then the airports of IATA's multi-airport cities, then every other
    airport named "International", in an order that spreads them over the world.
    """
    ordered = dict.fromkeys(SCALE_ONE_AIRPORTS)
    ordered.update(dict.fromkeys(hub for hubs in CARRIER_HUBS.values() for hub in hubs))
    ordered.update(dict.fromkeys(code for code in metros if code in rows))
    international = [
        code for code, row in rows.items() if "International" in row["name"] and code not in ordered
    ]
    ordered.update(dict.fromkeys(sorted(international, key=_stable_rank)))
    return list(ordered)


def _load_airports() -> tuple[Airport, ...]:
    rows = airportsdata.load("IATA")
    macs = airportsdata.load_iata_macs()
    metros = {code: mac for mac, entry in macs.items() for code in entry["airports"]}
    metros.update(METRO_ADDITIONS)
    airports = []
    for code in _airport_order(rows, metros):
        row = rows[code]
        metro = metros.get(code, code)
        city = macs[metro]["name"] if metro in macs else row["city"] or row["name"]
        airports.append(
            Airport(
                code=code,
                metro=metro,
                city=city,
                country=row["country"],
                lat=row["lat"],
                lon=row["lon"],
                time_zone=row["tz"],
                utc_offset_h=standard_offset_h(row["tz"]),
            )
        )
    return tuple(airports)


AIRPORTS = _load_airports()
AIRPORTS_BY_CODE = {airport.code: airport for airport in AIRPORTS}


def currency_of(country: str) -> str:
    return CURRENCY_BY_COUNTRY.get(country, "USD")


CARRIER_CURRENCY = {
    carrier: currency_of(AIRPORTS_BY_CODE[hubs[0]].country)
    for carrier, hubs in CARRIER_HUBS.items()
}

_CITY_TABLE = """
LON|London|51.5074|-0.1278|1.35
    Piccadilly|Strand|Kensington High St|Baker St|Southwark St
    Mayfair|Covent Garden|Kensington|Marylebone|Bankside
NYC|New York|40.758|-73.9855|1.45
    W 57th St|Lexington Ave|Broadway|Park Ave S|Greenwich St
    Midtown|Gramercy|Tribeca|Chelsea|Hudson Yards
PAR|Paris|48.8566|2.3522|1.3
    Rue de Rivoli|Boulevard Saint-Germain|Avenue de l'Opéra|Rue Saint-Honoré|Rue Oberkampf
    Marais|Saint-Germain|Opéra|Montmartre|Bastille
AMS|Amsterdam|52.3676|4.9041|1.2
    Damrak|Prinsengracht|Herengracht|Vijzelstraat|Overtoom
    Jordaan|De Pijp|Canal Ring|Oud-Zuid|Oosterdok
MAD|Madrid|40.4168|-3.7038|0.95
    Gran Vía|Calle de Alcalá|Paseo del Prado|Calle Mayor|Calle de Serrano
    Sol|Salamanca|Chamberí|Malasaña|Retiro
BCN|Barcelona|41.3874|2.1686|1.05
    Passeig de Gràcia|La Rambla|Carrer d'Aragó|Via Laietana|Avinguda Diagonal
    Eixample|Gràcia|Born|Barceloneta|Gothic Quarter
ROM|Rome|41.9028|12.4964|1.1
    Via del Corso|Via Veneto|Via Nazionale|Via Cavour|Viale di Trastevere
    Trastevere|Monti|Prati|Spagna|Testaccio
DUB|Dublin|53.3498|-6.2603|1.1
    O'Connell St|Grafton St|Dawson St|Baggot St|Camden St
    Temple Bar|Ballsbridge|Docklands|Portobello|Smithfield
ZRH|Zurich|47.3769|8.5417|1.4
    Bahnhofstrasse|Limmatquai|Niederdorfstrasse|Seefeldstrasse|Talstrasse
    Altstadt|Seefeld|Enge|Kreis 5|Oerlikon
VIE|Vienna|48.2082|16.3738|0.95
    Kärntner Straße|Schubertring|Mariahilfer Straße|Wiedner Hauptstraße|Praterstraße
    Innere Stadt|Leopoldstadt|Neubau|Wieden|Josefstadt
CPH|Copenhagen|55.6761|12.5683|1.2
    Strøget|Vesterbrogade|Nyhavn|Bredgade|Nørrebrogade
    Nyhavn|Vesterbro|Nørrebro|Christianshavn|Østerbro
LIS|Lisbon|38.7223|-9.1393|0.85
    Avenida da Liberdade|Rua Augusta|Rua Garrett|Rua do Alecrim|Avenida Almirante Reis
    Chiado|Alfama|Baixa|Príncipe Real|Belém
ATH|Athens|37.9838|23.7275|0.8
    Ermou St|Vasilissis Sofias Ave|Panepistimiou St|Adrianou St|Syngrou Ave
    Plaka|Kolonaki|Syntagma|Monastiraki|Koukaki
IST|Istanbul|41.0082|28.9784|0.6
    İstiklal Caddesi|Divanyolu Caddesi|Cumhuriyet Caddesi|Bağdat Caddesi|Kennedy Caddesi
    Beyoğlu|Sultanahmet|Nişantaşı|Karaköy|Kadıköy
EDI|Edinburgh|55.9533|-3.1883|1.0
    Princes St|George St|Royal Mile|Queen St|Leith Walk
    Old Town|New Town|Leith|Stockbridge|West End
BOS|Boston|42.3601|-71.0589|1.2
    Boylston St|Newbury St|Tremont St|Atlantic Ave|Cambridge St
    Back Bay|Beacon Hill|Seaport|North End|Fenway
MIA|Miami|25.7617|-80.1918|1.1
    Collins Ave|Ocean Dr|Brickell Ave|Biscayne Blvd|Lincoln Rd
    South Beach|Brickell|Wynwood|Coconut Grove|Downtown
LAX|Los Angeles|34.0522|-118.2437|1.15
    Sunset Blvd|Wilshire Blvd|Hollywood Blvd|Santa Monica Blvd|Figueroa St
    Hollywood|Downtown|Santa Monica|Beverly Hills|Venice
SFO|San Francisco|37.7749|-122.4194|1.3
    Market St|Powell St|Van Ness Ave|The Embarcadero|Lombard St
    Union Square|SoMa|Nob Hill|Fisherman's Wharf|Mission
LAS|Las Vegas|36.1147|-115.1728|0.9
    Las Vegas Blvd S|Fremont St|Paradise Rd|Flamingo Rd|Tropicana Ave
    The Strip|Downtown|Paradise|Summerlin|Henderson
DXB|Dubai|25.2048|55.2708|1.1
    Sheikh Zayed Rd|Al Wasl Rd|Jumeirah Beach Rd|Al Maktoum Rd|Financial Centre Rd
    Downtown|Marina|Jumeirah|Deira|DIFC
SIN|Singapore|1.2903|103.852|1.2
    Orchard Rd|Bras Basah Rd|Beach Rd|Raffles Ave|Havelock Rd
    Marina Bay|Orchard|Clarke Quay|Bugis|Sentosa
HKG|Hong Kong|22.2793|114.1628|1.15
    Nathan Rd|Queen's Rd Central|Hennessy Rd|Canton Rd|Des Voeux Rd
    Central|Tsim Sha Tsui|Wan Chai|Causeway Bay|Mong Kok
BKK|Bangkok|13.7563|100.5018|0.55
    Sukhumvit Rd|Silom Rd|Rama I Rd|Ploenchit Rd|Charoen Krung Rd
    Sukhumvit|Silom|Riverside|Siam|Sathorn
SYD|Sydney|-33.8688|151.2093|1.15
    George St|Pitt St|Macquarie St|Oxford St|Campbell Pde
    The Rocks|Darling Harbour|Surry Hills|Bondi|Circular Quay
"""


def _parse_cities(table: str, country_of: dict[str, str]) -> list[City]:
    """Per city: code|name|latitude|longitude|price factor, then streets, then areas."""
    lines = [line.strip() for line in table.strip().splitlines()]
    cities = []
    for head, streets, areas in zip(lines[0::3], lines[1::3], lines[2::3], strict=True):
        code, name, lat, lon, price = head.split("|")
        cities.append(
            City(
                code,
                name,
                currency_of(country_of[code]),
                float(lat),
                float(lon),
                float(price),
                tuple(streets.split("|")),
                tuple(areas.split("|")),
            )
        )
    return cities


def _generic_city(airport: Airport) -> City:
    """A hotel city the table does not describe: around its airport, at a price level drawn
    from its code."""
    low, high = GENERIC_PRICE_FACTORS
    fraction = int(_stable_rank(airport.metro)[:8], 16) / 0xFFFFFFFF
    return City(
        code=airport.metro,
        name=airport.city,
        currency=currency_of(airport.country),
        lat=airport.lat,
        lon=airport.lon,
        price_factor=round(low + (high - low) * fraction, 2),
        streets=GENERIC_STREETS,
        areas=GENERIC_AREAS,
    )


def _load_cities() -> tuple[City, ...]:
    """The table's cities, then one per other metropolitan area, in the airports' order."""
    country_of = {airport.metro: airport.country for airport in reversed(AIRPORTS)}
    cities = {city.code: city for city in _parse_cities(_CITY_TABLE, country_of)}
    for airport in AIRPORTS:
        if airport.metro not in cities:
            cities[airport.metro] = _generic_city(airport)
    return tuple(cities.values())


CITIES = _load_cities()
CITIES_BY_CODE = {city.code: city for city in CITIES}


@dataclass(frozen=True, slots=True)
class Places:
    """The airports, carriers (with their hubs among those airports) and hotel cities of one
    world."""

    airports: tuple[Airport, ...]
    carrier_hubs: dict[str, tuple[str, ...]]
    cities: tuple[City, ...]


@functools.cache
def places(*, airports: int, carriers: int, cities: int) -> Places:
    """The first `airports` airports, the first `carriers` carriers with a hub among them and
    the first `cities` hotel cities they serve (each list ends where the reference data does)."""
    chosen = AIRPORTS[:airports]
    codes = {airport.code for airport in chosen}
    hubs = {
        carrier: tuple(hub for hub in carrier_hubs if hub in codes)
        for carrier, carrier_hubs in CARRIER_HUBS.items()
    }
    flown = dict([(carrier, flown) for carrier, flown in hubs.items() if flown][:carriers])
    served = {airport.metro for airport in chosen}
    hotel_cities = tuple(city for city in CITIES if city.code in served)[:cities]
    return Places(chosen, flown, hotel_cities)
