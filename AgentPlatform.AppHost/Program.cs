var builder = DistributedApplication.CreateBuilder(args);

var cache = builder.AddPlatformRedis();

// The admin credential: given as Parameters:master-key, or generated once and kept in user secrets.
var masterKey = builder.AddParameter("master-key", new GenerateParameterDefault { MinLength = 40, Special = false }, secret: true, persist: true);

var router = builder.AddProject<Projects.AgentPlatform_Router>("router")
    .WithReference(cache)
    .WithModelPool(builder)
    .WithConfiguredReplicas(builder, "Router")
    .WithHttpHealthCheck("/health");

var api = builder.AddProject<Projects.AgentPlatform_Api>("api")
    .WithReference(cache)
    .WithReference(router)
    .WaitFor(router)
    .WithEnvironment("AgentPlatform__MasterKey", masterKey)
    // The response cache's settings (Cache:Enabled, Cache:TtlSeconds, ...), given to the AppHost.
    .WithConfigurationSection(builder.Configuration, "Cache")
    .WithConfiguredPort(builder, "Api")
    .WithConfiguredReplicas(builder, "Api")
    .WithHttpHealthCheck("/health");

var web = builder.AddProject<Projects.AgentPlatform_Web>("web")
    .WithReference(api)
    .WaitFor(api)
    .WithEnvironment("AgentPlatform__MasterKey", masterKey)
    .WithConfiguredPort(builder, "Web")
    .WithHttpHealthCheck("/health");

// The console's request lookup links each request to its trace in this dashboard.
if (builder.Configuration["ASPNETCORE_URLS"]?.Split(';')[0] is { Length: > 0 } dashboardUrl)
{
    web.WithEnvironment("AgentPlatform__DashboardUrl", dashboardUrl);
}

builder.Build().Run();
