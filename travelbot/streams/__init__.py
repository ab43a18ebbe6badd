"""The stream runtime every app uses: Kafka topics in, Postgres transactions out."""
