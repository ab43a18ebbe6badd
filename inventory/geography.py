"""Airports, hotel cities and carriers' hubs: the places and airlines travelbot serves.

A table kept in the code until the chat recognises places and flight numbers by the airport
reference data; the feed simulator draws its world from `simulator/geography.py`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Airport:
    code: str
    metro: str  # IATA metropolitan code where one exists, else the airport code
    city: str
    lat: float
    lon: float
    utc_offset_h: float  # standard time; only used to put departures at plausible local hours


def _airport(code: str, metro: str, city: str, lat: float, lon: float, utc: float) -> Airport:
    return Airport(code, metro, city, lat, lon, utc)


AIRPORTS: tuple[Airport, ...] = (
    _airport("LHR", "LON", "London", 51.470, -0.454, 0),
    _airport("LGW", "LON", "London", 51.153, -0.182, 0),
    _airport("CDG", "PAR", "Paris", 49.010, 2.548, 1),
    _airport("ORY", "PAR", "Paris", 48.723, 2.379, 1),
    _airport("FRA", "FRA", "Frankfurt", 50.037, 8.562, 1),
    _airport("MUC", "MUC", "Munich", 48.354, 11.786, 1),
    _airport("AMS", "AMS", "Amsterdam", 52.310, 4.768, 1),
    _airport("MAD", "MAD", "Madrid", 40.472, -3.561, 1),
    _airport("BCN", "BCN", "Barcelona", 41.297, 2.078, 1),
    _airport("FCO", "ROM", "Rome", 41.800, 12.239, 1),
    _airport("DUB", "DUB", "Dublin", 53.421, -6.270, 0),
    _airport("ZRH", "ZRH", "Zurich", 47.458, 8.555, 1),
    _airport("VIE", "VIE", "Vienna", 48.110, 16.570, 1),
    _airport("CPH", "CPH", "Copenhagen", 55.618, 12.656, 1),
    _airport("LIS", "LIS", "Lisbon", 38.774, -9.134, 0),
    _airport("ATH", "ATH", "Athens", 37.936, 23.947, 2),
    _airport("IST", "IST", "Istanbul", 41.275, 28.752, 3),
    _airport("EDI", "EDI", "Edinburgh", 55.950, -3.372, 0),
    _airport("MAN", "MAN", "Manchester", 53.354, -2.275, 0),
    _airport("JFK", "NYC", "New York", 40.641, -73.778, -5),
    _airport("EWR", "NYC", "New York", 40.690, -74.174, -5),
    _airport("BOS", "BOS", "Boston", 42.366, -71.010, -5),
    _airport("ATL", "ATL", "Atlanta", 33.640, -84.427, -5),
    _airport("MIA", "MIA", "Miami", 25.796, -80.287, -5),
    _airport("DFW", "DFW", "Dallas", 32.900, -97.040, -6),
    _airport("DEN", "DEN", "Denver", 39.856, -104.674, -7),
    _airport("LAX", "LAX", "Los Angeles", 33.942, -118.408, -8),
    _airport("SFO", "SFO", "San Francisco", 37.621, -122.379, -8),
    _airport("SEA", "SEA", "Seattle", 47.450, -122.309, -8),
    _airport("LAS", "LAS", "Las Vegas", 36.084, -115.154, -8),
    _airport("YVR", "YVR", "Vancouver", 49.195, -123.184, -8),
    _airport("MEX", "MEX", "Mexico City", 19.436, -99.072, -6),
    _airport("DXB", "DXB", "Dubai", 25.253, 55.364, 4),
    _airport("DOH", "DOH", "Doha", 25.273, 51.608, 3),
    _airport("SIN", "SIN", "Singapore", 1.364, 103.991, 8),
    _airport("HKG", "HKG", "Hong Kong", 22.308, 113.918, 8),
    _airport("BKK", "BKK", "Bangkok", 13.690, 100.750, 7),
    _airport("DEL", "DEL", "Delhi", 28.556, 77.100, 5.5),
    _airport("BOM", "BOM", "Mumbai", 19.090, 72.866, 5.5),
    _airport("SYD", "SYD", "Sydney", -33.940, 151.175, 10),
)


CARRIER_HUBS: dict[str, tuple[str, ...]] = {
    "BA": ("LHR", "LGW"),
    "AF": ("CDG", "ORY"),
    "LH": ("FRA", "MUC"),
    "UA": ("EWR", "SFO", "DEN"),
    "DL": ("ATL", "JFK", "LAX", "SEA"),
    "AA": ("DFW", "MIA", "JFK", "LAX"),
    "EK": ("DXB",),
    "IB": ("MAD",),
    "KL": ("AMS",),
    "AZ": ("FCO",),
}


@dataclass(frozen=True, slots=True)
class City:
    code: str
    name: str
    currency: str
    lat: float
    lon: float
    price_factor: float
    streets: tuple[str, ...]
    areas: tuple[str, ...]


# Per city: code|name|currency|latitude|longitude|price factor, then streets, then areas.
_CITY_TABLE = """
LON|London|GBP|51.5074|-0.1278|1.35
    Piccadilly|Strand|Kensington High St|Baker St|Southwark St
    Mayfair|Covent Garden|Kensington|Marylebone|Bankside
NYC|New York|USD|40.758|-73.9855|1.45
    W 57th St|Lexington Ave|Broadway|Park Ave S|Greenwich St
    Midtown|Gramercy|Tribeca|Chelsea|Hudson Yards
PAR|Paris|EUR|48.8566|2.3522|1.3
    Rue de Rivoli|Boulevard Saint-Germain|Avenue de l'Opéra|Rue Saint-Honoré|Rue Oberkampf
    Marais|Saint-Germain|Opéra|Montmartre|Bastille
AMS|Amsterdam|EUR|52.3676|4.9041|1.2
    Damrak|Prinsengracht|Herengracht|Vijzelstraat|Overtoom
    Jordaan|De Pijp|Canal Ring|Oud-Zuid|Oosterdok
MAD|Madrid|EUR|40.4168|-3.7038|0.95
    Gran Vía|Calle de Alcalá|Paseo del Prado|Calle Mayor|Calle de Serrano
    Sol|Salamanca|Chamberí|Malasaña|Retiro
BCN|Barcelona|EUR|41.3874|2.1686|1.05
    Passeig de Gràcia|La Rambla|Carrer d'Aragó|Via Laietana|Avinguda Diagonal
    Eixample|Gràcia|Born|Barceloneta|Gothic Quarter
ROM|Rome|EUR|41.9028|12.4964|1.1
    Via del Corso|Via Veneto|Via Nazionale|Via Cavour|Viale di Trastevere
    Trastevere|Monti|Prati|Spagna|Testaccio
DUB|Dublin|EUR|53.3498|-6.2603|1.1
    O'Connell St|Grafton St|Dawson St|Baggot St|Camden St
    Temple Bar|Ballsbridge|Docklands|Portobello|Smithfield
ZRH|Zurich|CHF|47.3769|8.5417|1.4
    Bahnhofstrasse|Limmatquai|Niederdorfstrasse|Seefeldstrasse|Talstrasse
    Altstadt|Seefeld|Enge|Kreis 5|Oerlikon
VIE|Vienna|EUR|48.2082|16.3738|0.95
    Kärntner Straße|Schubertring|Mariahilfer Straße|Wiedner Hauptstraße|Praterstraße
    Innere Stadt|Leopoldstadt|Neubau|Wieden|Josefstadt
CPH|Copenhagen|DKK|55.6761|12.5683|1.2
    Strøget|Vesterbrogade|Nyhavn|Bredgade|Nørrebrogade
    Nyhavn|Vesterbro|Nørrebro|Christianshavn|Østerbro
LIS|Lisbon|EUR|38.7223|-9.1393|0.85
    Avenida da Liberdade|Rua Augusta|Rua Garrett|Rua do Alecrim|Avenida Almirante Reis
    Chiado|Alfama|Baixa|Príncipe Real|Belém
ATH|Athens|EUR|37.9838|23.7275|0.8
    Ermou St|Vasilissis Sofias Ave|Panepistimiou St|Adrianou St|Syngrou Ave
    Plaka|Kolonaki|Syntagma|Monastiraki|Koukaki
IST|Istanbul|TRY|41.0082|28.9784|0.6
    İstiklal Caddesi|Divanyolu Caddesi|Cumhuriyet Caddesi|Bağdat Caddesi|Kennedy Caddesi
    Beyoğlu|Sultanahmet|Nişantaşı|Karaköy|Kadıköy
EDI|Edinburgh|GBP|55.9533|-3.1883|1.0
    Princes St|George St|Royal Mile|Queen St|Leith Walk
    Old Town|New Town|Leith|Stockbridge|West End
BOS|Boston|USD|42.3601|-71.0589|1.2
    Boylston St|Newbury St|Tremont St|Atlantic Ave|Cambridge St
    Back Bay|Beacon Hill|Seaport|North End|Fenway
MIA|Miami|USD|25.7617|-80.1918|1.1
    Collins Ave|Ocean Dr|Brickell Ave|Biscayne Blvd|Lincoln Rd
    South Beach|Brickell|Wynwood|Coconut Grove|Downtown
LAX|Los Angeles|USD|34.0522|-118.2437|1.15
    Sunset Blvd|Wilshire Blvd|Hollywood Blvd|Santa Monica Blvd|Figueroa St
    Hollywood|Downtown|Santa Monica|Beverly Hills|Venice
SFO|San Francisco|USD|37.7749|-122.4194|1.3
    Market St|Powell St|Van Ness Ave|The Embarcadero|Lombard St
    Union Square|SoMa|Nob Hill|Fisherman's Wharf|Mission
LAS|Las Vegas|USD|36.1147|-115.1728|0.9
    Las Vegas Blvd S|Fremont St|Paradise Rd|Flamingo Rd|Tropicana Ave
    The Strip|Downtown|Paradise|Summerlin|Henderson
DXB|Dubai|AED|25.2048|55.2708|1.1
    Sheikh Zayed Rd|Al Wasl Rd|Jumeirah Beach Rd|Al Maktoum Rd|Financial Centre Rd
    Downtown|Marina|Jumeirah|Deira|DIFC
SIN|Singapore|SGD|1.2903|103.852|1.2
    Orchard Rd|Bras Basah Rd|Beach Rd|Raffles Ave|Havelock Rd
    Marina Bay|Orchard|Clarke Quay|Bugis|Sentosa
HKG|Hong Kong|HKD|22.2793|114.1628|1.15
    Nathan Rd|Queen's Rd Central|Hennessy Rd|Canton Rd|Des Voeux Rd
    Central|Tsim Sha Tsui|Wan Chai|Causeway Bay|Mong Kok
BKK|Bangkok|THB|13.7563|100.5018|0.55
    Sukhumvit Rd|Silom Rd|Rama I Rd|Ploenchit Rd|Charoen Krung Rd
    Sukhumvit|Silom|Riverside|Siam|Sathorn
SYD|Sydney|AUD|-33.8688|151.2093|1.15
    George St|Pitt St|Macquarie St|Oxford St|Campbell Pde
    The Rocks|Darling Harbour|Surry Hills|Bondi|Circular Quay
"""


def _parse_cities(table: str) -> tuple[City, ...]:
    lines = [line.strip() for line in table.strip().splitlines()]
    cities = []
    for head, streets, areas in zip(lines[0::3], lines[1::3], lines[2::3], strict=True):
        code, name, currency, lat, lon, price = head.split("|")
        cities.append(
            City(
                code,
                name,
                currency,
                float(lat),
                float(lon),
                float(price),
                tuple(streets.split("|")),
                tuple(areas.split("|")),
            )
        )
    return tuple(cities)


CITIES = _parse_cities(_CITY_TABLE)
