"""Word lists for the demo league: first names and invented clubs.

Names are plain ASCII letters (`[A-Z][a-z]*`, a digit appended when one is
taken), so every collation sorts them the same way.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Aaron", "Abdul", "Adrian", "Ahmed", "Alan", "Albert", "Alex", "Alfie", "Amir", "Andre",
    "Andy", "Angus", "Anton", "Archie", "Arlo", "Arthur", "Barney", "Basil", "Ben", "Bill",
    "Blake", "Bobby", "Brendan", "Brian", "Bruno", "Callum", "Calvin", "Carlos", "Cedric",
    "Charlie", "Chris", "Colin", "Conor", "Craig", "Cyril", "Dale", "Damien", "Danny", "Darren",
    "Dave", "Dean", "Declan", "Dennis", "Dev", "Dominic", "Doug", "Duncan", "Eamon", "Eddie",
    "Elliot", "Emeka", "Emil", "Enzo", "Eric", "Ewan", "Fabio", "Felix", "Fergus", "Finlay",
    "Francis", "Fraser", "Gareth", "Gavin", "George", "Gordon", "Graham", "Grant", "Greg",
    "Hamish", "Hank", "Harry", "Harvey", "Hassan", "Hector", "Henry", "Hugh", "Iain", "Ibrahim",
    "Igor", "Isaac", "Ivor", "Jake", "Jamal", "James", "Jamie", "Jason", "Jay", "Jeff",
    "Jerome", "Jim", "Joel", "Jonah", "Jordan", "Josh", "Jude", "Kai", "Karl", "Keith", "Kenny",
    "Kevin", "Kieran", "Kofi", "Lars", "Lee", "Leon", "Lewis", "Liam", "Lloyd", "Luca", "Luke",
    "Malik", "Marco", "Mark", "Martin", "Mason", "Matt", "Max", "Miguel", "Mike", "Milo",
    "Mohammed", "Morgan", "Nathan", "Neil", "Niall", "Nick", "Noah", "Olly", "Omar", "Oscar",
    "Owen", "Paddy", "Pavel", "Pete", "Phil", "Quentin", "Rafa", "Raj", "Ralph", "Ravi",
    "Reece", "Rhys", "Rich", "Robbie", "Rory", "Ross", "Ryan", "Sami", "Scott", "Sean",
    "Seb", "Shane", "Simon", "Stan", "Steve", "Stuart", "Theo", "Tim", "Toby", "Tom", "Tony",
    "Trevor", "Tyrone", "Umar", "Victor", "Vince", "Wade", "Wayne", "Will", "Xavier", "Yusuf",
    "Zach", "Zane",
)  # fmt: skip

# Invented clubs, in the shape the Capo app stores in players.selected_club.
CLUBS: tuple[tuple[str, str, str], ...] = (
    ("Ashbrook Athletic", "Demo Premier", "England"),
    ("Bramble Town", "Demo Premier", "England"),
    ("Castlegate United", "Demo Premier", "England"),
    ("Dunmore Rovers", "Demo Championship", "Scotland"),
    ("Eastfield Wanderers", "Demo Championship", "England"),
    ("Fernhill Harriers", "Demo Championship", "Wales"),
    ("Glenview Albion", "Demo Premier", "Scotland"),
    ("Harbour City", "Demo Premier", "England"),
    ("Ironbridge FC", "Demo Championship", "England"),
    ("Kingsmead Celtic", "Demo Championship", "Ireland"),
    ("Lakeside Orient", "Demo Premier", "England"),
    ("Millford Villa", "Demo Premier", "England"),
)


def club_object(index: int) -> dict[str, str]:
    name, league, country = CLUBS[index]
    club_id = str(9100 + index)
    return {
        "id": club_id,
        "name": name,
        "league": league,
        "search": name.lower(),
        "country": country,
        "filename": f"{club_id}.png",
    }
