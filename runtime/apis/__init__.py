"""The API entry points: each is one Lambda function that composes several features' routers
(`<feature>/handlers/`) behind one authorizer, with the middleware that establishes the caller."""
