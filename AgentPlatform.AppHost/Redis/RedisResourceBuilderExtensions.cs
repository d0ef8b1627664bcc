using System.Net;
using System.Net.Sockets;
using AgentPlatform.AppHost.Redis;
using Microsoft.Extensions.DependencyInjection;

namespace Aspire.Hosting;

public static class RedisResourceBuilderExtensions
{
    /// <summary>
    /// Adds the platform's Redis as the resource <c>cache</c>. Run locally: from the first source that is
    /// available (see <see cref="RedisChoice"/>); the dashboard shows which (Redis container, redis-server,
    /// embedded Garnet or connection string). Published: a Redis container with a generated password and
    /// a data volume, or with <c>AgentPlatform:Deploy:Redis=connection-string</c> an existing Redis whose
    /// connection string is a secret parameter; never what the publishing machine happens to have.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddPlatformRedis(this IDistributedApplicationBuilder builder, string name = "cache")
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            return DeploySettings.UseExistingRedis(builder.Configuration)
                ? builder.AddConnectionString(name)
                : builder.AddRedis(name).WithDataVolume().WithPersistence();
        }
        var kind = RedisChoice.Pick(builder.Configuration, RedisChoice.ContainerRuntimeAnswers, () => RedisChoice.FindOnPath("redis-server"));
        return kind switch
        {
            RedisKind.ConnectionString => builder.AddConnectionString(name),
            RedisKind.Container => builder.AddRedis(name).WithDataVolume().WithPersistence(),
            RedisKind.RedisServer => builder.AddRedisServer(name),
            _ => builder.AddEmbeddedGarnet(name),
        };
    }

    /// <summary><c>redis-server</c> on a free port, appending every write to disk in the data directory.</summary>
    private static IResourceBuilder<RedisServerResource> AddRedisServer(this IDistributedApplicationBuilder builder, string name)
    {
        var port = FreeTcpPort();
        var dataDirectory = DataDirectory(builder, name);
        Directory.CreateDirectory(dataDirectory);
        var connectionString = $"127.0.0.1:{port}";
        builder.Services.AddHealthChecks().AddRedis(connectionString, name: $"{name}-redis-server");

        return builder.AddResource(new RedisServerResource(name, "redis-server", dataDirectory))
            .WithArgs("--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                "--appendonly", "yes", "--dir", dataDirectory, "--protected-mode", "no")
            .WithEndpoint(port: port, targetPort: port, scheme: "tcp", name: RedisServerResource.EndpointName, isProxied: false)
            .WithHealthCheck($"{name}-redis-server")
            .WithIconName("Database");
    }

    /// <summary>Garnet inside the AppHost, appending every write to disk in the data directory (as redis-server does).</summary>
    private static IResourceBuilder<GarnetResource> AddEmbeddedGarnet(this IDistributedApplicationBuilder builder, string name)
    {
        var resource = new GarnetResource(name, FreeTcpPort());
        var dataDirectory = DataDirectory(builder, name);
        Directory.CreateDirectory(dataDirectory);
        // A singleton built by the container is disposed with it, when the AppHost stops.
        builder.Services.AddSingleton(_ => new EmbeddedGarnet(resource, dataDirectory));
        builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
            @event.Services.GetRequiredService<EmbeddedGarnet>().StartAsync(@event.Services.GetRequiredService<ResourceNotificationService>()));
        builder.Services.AddHealthChecks().AddRedis($"127.0.0.1:{resource.Port}", name: $"{name}-garnet");

        return builder.AddResource(resource)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "Garnet (embedded)",
                State = KnownResourceStates.Starting,
                Properties = [],
            })
            .WithHealthCheck($"{name}-garnet")
            .WithIconName("Database");
    }

    private static string DataDirectory(IDistributedApplicationBuilder builder, string name) =>
        builder.Configuration["AgentPlatform:RedisDataDirectory"] is { Length: > 0 } configured
            ? configured
            : Path.Combine(builder.AppHostDirectory, ".data", name);

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
