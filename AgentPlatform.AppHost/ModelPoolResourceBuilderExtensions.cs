using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

public static class ModelPoolResourceBuilderExtensions
{
    public const string DefaultModelGroup = "default";

    /// <summary>
    /// Gives the Router its model pool. Real providers come from the AppHost's own configuration
    /// section <c>Router:ModelGroups</c> (user secrets or environment, never committed files) and are
    /// passed through as they are. Without any, two simulators, <c>sim-a</c> and <c>sim-b</c>, form the
    /// model group <c>default</c>, so routing and failover are visible from the first run.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithModelPool(this IResourceBuilder<ProjectResource> router, IDistributedApplicationBuilder builder)
    {
        var configured = builder.Configuration.GetSection("Router:ModelGroups");
        if (configured.Exists())
        {
            foreach (var (key, value) in configured.AsEnumerable(makePathsRelative: false))
            {
                if (value is not null)
                {
                    router.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
                }
            }
            return router;
        }

        string[] simulators = ["sim-a", "sim-b"];
        for (var i = 0; i < simulators.Length; i++)
        {
            // No launch profile: each simulator gets its own free port.
            var simulator = builder.AddProject<Projects.AgentPlatform_Simulator>(simulators[i], launchProfileName: null)
                .WithHttpEndpoint()
                .WithHttpHealthCheck("/health");
            var prefix = $"Router__ModelGroups__{DefaultModelGroup}__Deployments__{i}__";
            router.WithEnvironment(prefix + "Name", simulators[i])
                .WithEnvironment(prefix + "Provider", "openai")
                .WithEnvironment(prefix + "BaseUrl", ReferenceExpression.Create($"{simulator.GetEndpoint("http")}/v1"))
                .WithEnvironment(prefix + "Model", "sim-model")
                .WaitFor(simulator);
        }
        return router;
    }

    /// <summary>Pins a service's http endpoint to <c>AgentPlatform:Ports:{name}</c> when it is set (0 = any free port).</summary>
    public static IResourceBuilder<ProjectResource> WithConfiguredPort(this IResourceBuilder<ProjectResource> project, IDistributedApplicationBuilder builder, string name)
    {
        if (int.TryParse(builder.Configuration[$"AgentPlatform:Ports:{name}"], out var port))
        {
            project.WithEndpoint("http", endpoint => endpoint.Port = port == 0 ? null : port);
        }
        return project;
    }
}
