"""Tables, migrations, engines and the transaction scope."""
