using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

public static class ModelPoolResourceBuilderExtensions
{
    public const string DefaultModelGroup = "default";

    /// <summary>
    /// Gives the Router its model pool. Real providers come from the AppHost's own configuration
    /// section <c>Router:ModelGroups</c> (user secrets or environment, never committed files) and are
    /// passed through as they are. Without any, two simulators, <c>sim-a</c> and <c>sim-b</c>, form the
    /// model group <c>default</c>, so routing and failover are visible from the first run; the same
    /// simulators also answer as Anthropic (<c>claude-sim</c>) and Azure OpenAI (<c>azure-sim</c>), so
    /// every provider adapter can be tried locally.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithModelPool(this IResourceBuilder<ProjectResource> router, IDistributedApplicationBuilder builder)
    {
        var configured = builder.Configuration.GetSection("Router:ModelGroups");
        if (configured.Exists())
        {
            return router.WithConfigurationSection(builder.Configuration, "Router:ModelGroups");
        }

        string[] names = ["sim-a", "sim-b"];
        var simulators = new IResourceBuilder<ProjectResource>[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            // No launch profile: each simulator gets its own free port.
            simulators[i] = builder.AddProject<Projects.AgentPlatform_Simulator>(names[i], launchProfileName: null)
                .WithHttpEndpoint()
                .WithHttpHealthCheck("/health");
            router.WaitFor(simulators[i]);
            AddDeployment(router, DefaultModelGroup, i, names[i], "openai", ReferenceExpression.Create($"{simulators[i].GetEndpoint("http")}/v1"), "sim-model", SmallModelPrices);
        }
        AddDeployment(router, "claude-sim", 0, "sim-a-anthropic", "anthropic", ReferenceExpression.Create($"{simulators[0].GetEndpoint("http")}"), "claude-sim", LargeModelPrices);
        AddDeployment(router, "azure-sim", 0, "sim-b-azure", "azure-openai", ReferenceExpression.Create($"{simulators[1].GetEndpoint("http")}"), "sim-deployment", SmallModelPrices);
        return router;
    }

    /// <summary>
    /// Example prices (USD per million input, cached input and output tokens) of a small and a large
    /// hosted model, so that the simulated pool shows real-looking cost in the console and the ledger.
    /// </summary>
    private static readonly (string Input, string CachedInput, string Output) SmallModelPrices = ("0.15", "0.075", "0.60");
    private static readonly (string Input, string CachedInput, string Output) LargeModelPrices = ("3", "0.30", "15");

    private static void AddDeployment(IResourceBuilder<ProjectResource> router, string group, int index, string name, string provider, ReferenceExpression baseUrl, string model,
        (string Input, string CachedInput, string Output) prices)
    {
        var prefix = $"Router__ModelGroups__{group}__Deployments__{index}__";
        router.WithEnvironment(prefix + "Name", name)
            .WithEnvironment(prefix + "Provider", provider)
            .WithEnvironment(prefix + "BaseUrl", baseUrl)
            .WithEnvironment(prefix + "Model", model)
            .WithEnvironment(prefix + "InputPricePerMillion", prices.Input)
            .WithEnvironment(prefix + "CachedInputPricePerMillion", prices.CachedInput)
            .WithEnvironment(prefix + "OutputPricePerMillion", prices.Output);
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

    /// <summary>
    /// Runs the service as <c>AgentPlatform:Replicas:{name}</c> processes (default 1) behind the AppHost's
    /// proxy, as a load balancer would in the cloud: every replica shares its state through Redis.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithConfiguredReplicas(this IResourceBuilder<ProjectResource> project, IDistributedApplicationBuilder builder, string name)
    {
        var setting = builder.Configuration[$"AgentPlatform:Replicas:{name}"];
        if (setting is null)
        {
            return project;
        }
        if (!int.TryParse(setting, out var replicas) || replicas < 1 || replicas > 64)
        {
            throw new InvalidOperationException($"AgentPlatform:Replicas:{name} must be a whole number from 1 to 64, not '{setting}'.");
        }
        return project.WithReplicas(replicas);
    }
}
