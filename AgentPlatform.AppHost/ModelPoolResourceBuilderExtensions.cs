using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

public static class ModelPoolResourceBuilderExtensions
{
    public const string DefaultModelGroup = "default";

    /// <summary>The simulated pool's group of embeddings deployments.</summary>
    public const string EmbeddingsModelGroup = "embeddings";

    /// <summary>
    /// Gives the Router its model pool. Real providers come from the AppHost's own configuration
    /// section <c>Router:ModelGroups</c> (user secrets or environment, never committed files), each
    /// deployment's <c>ApiKey</c> as a secret parameter (see <see cref="WithConfiguredPool"/>). Without
    /// any, two simulators, <c>sim-a</c> and <c>sim-b</c>, form the model group <c>default</c>, so routing
    /// and failover are visible from the first run; the same simulators also answer as Anthropic
    /// (<c>claude-sim</c>) and Azure OpenAI (<c>azure-sim</c>, with the Responses API), so every provider adapter can be tried
    /// locally, and as the group <c>embeddings</c> (OpenAI's and Azure's embeddings). Published, the simulators are deployed only when <c>AgentPlatform:Deploy:Simulators</c> asks.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithModelPool(this IResourceBuilder<ProjectResource> router, IDistributedApplicationBuilder builder)
    {
        var configured = builder.Configuration.GetSection(PoolSection);
        if (configured.Exists())
        {
            return router.WithConfiguredPool(builder, configured);
        }
        if (builder.ExecutionContext.IsPublishMode && !DeploySettings.PublishSimulators(builder.Configuration))
        {
            throw new InvalidOperationException(
                $"There is no model pool to publish: give the deployments in {PoolSection} (see docs/deployment.md), or set {DeploySettings.SimulatorsKey}=true to deploy the simulators as a demo pool.");
        }

        string[] names = ["sim-a", "sim-b"];
        var simulators = new IResourceBuilder<ProjectResource>[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            // No launch profile: each simulator gets its own free port.
            simulators[i] = builder.AddProject<Projects.AgentPlatform_Simulator>(names[i], launchProfileName: null)
                .WithHttpEndpoint()
                .WithSettings(builder, ServiceSettings.Simulator)
                .WithHttpHealthCheck("/health");
            router.WaitFor(simulators[i]);
            AddDeployment(router, DefaultModelGroup, i, names[i], "openai", ReferenceExpression.Create($"{simulators[i].GetEndpoint("http")}/v1"), "sim-model", SmallModelPrices);
        }
        AddDeployment(router, "claude-sim", 0, "sim-a-anthropic", "anthropic", ReferenceExpression.Create($"{simulators[0].GetEndpoint("http")}"), "claude-sim", LargeModelPrices);
        AddDeployment(router, "azure-sim", 0, "sim-b-azure", "azure-openai", ReferenceExpression.Create($"{simulators[1].GetEndpoint("http")}"), "sim-deployment", SmallModelPrices)
            .WithEnvironment("Router__ModelGroups__azure-sim__Deployments__0__ResponsesApi", "true");
        AddDeployment(router, EmbeddingsModelGroup, 0, "sim-a-embeddings", "openai", ReferenceExpression.Create($"{simulators[0].GetEndpoint("http")}/v1"), "sim-embedding", EmbeddingPrices, "embeddings");
        AddDeployment(router, EmbeddingsModelGroup, 1, "sim-b-embeddings", "azure-openai", ReferenceExpression.Create($"{simulators[1].GetEndpoint("http")}"), "sim-embedding-deployment", EmbeddingPrices, "embeddings");
        return router;
    }

    public const string PoolSection = "Router:ModelGroups";

    /// <summary>
    /// The configured pool: every setting as it is, but each deployment's <c>ApiKey</c>, which becomes the
    /// secret parameter <c>{group}-{name}-api-key</c> (its value, when given, is used locally and never
    /// published), or the parameter named by <c>ApiKeyParameter</c>, so that deployments of one provider
    /// account share one key (<c>none</c>: a server that takes no key). Run locally, a deployment with
    /// neither runs without a key, as before; published, every deployment gets its parameter.
    /// </summary>
    private static IResourceBuilder<ProjectResource> WithConfiguredPool(this IResourceBuilder<ProjectResource> router, IDistributedApplicationBuilder builder, IConfigurationSection pool)
    {
        foreach (var (key, value) in pool.AsEnumerable(makePathsRelative: false))
        {
            if (value is not null && !key.EndsWith(":" + ApiKey, StringComparison.OrdinalIgnoreCase) && !key.EndsWith(":" + ApiKeyParameter, StringComparison.OrdinalIgnoreCase))
            {
                router.WithEnvironment(ServiceSettings.EnvironmentVariable(key), value);
            }
        }
        foreach (var group in pool.GetChildren())
        {
            foreach (var deployment in group.GetSection("Deployments").GetChildren())
            {
                var named = deployment[ApiKeyParameter];
                if (string.Equals(named, "none", StringComparison.OrdinalIgnoreCase)
                    || (!builder.ExecutionContext.IsPublishMode && deployment[ApiKey] is null && named is null))
                {
                    continue;
                }
                var parameterName = SecretParameters.NameFrom(named ?? $"{group.Key}-{deployment["Name"] ?? deployment.Key}-api-key");
                if (builder.AddSecretParameter(parameterName, deployment[ApiKey]) is { } parameter)
                {
                    router.WithEnvironment(ServiceSettings.EnvironmentVariable($"{deployment.Path}:{ApiKey}"), parameter);
                }
            }
        }
        return router;
    }

    private const string ApiKey = "ApiKey";
    private const string ApiKeyParameter = "ApiKeyParameter";

    /// <summary>
    /// Example prices (USD per million input, cached input and output tokens) of a small and a large
    /// hosted model, so that the simulated pool shows real-looking cost in the console and the ledger.
    /// </summary>
    private static readonly (string Input, string CachedInput, string Output) SmallModelPrices = ("0.15", "0.075", "0.60");
    private static readonly (string Input, string CachedInput, string Output) LargeModelPrices = ("3", "0.30", "15");
    private static readonly (string Input, string CachedInput, string Output) EmbeddingPrices = ("0.02", "0", "0");

    private static IResourceBuilder<ProjectResource> AddDeployment(IResourceBuilder<ProjectResource> router, string group, int index, string name, string provider, ReferenceExpression baseUrl, string model,
        (string Input, string CachedInput, string Output) prices, string kind = "chat")
    {
        var prefix = $"Router__ModelGroups__{group}__Deployments__{index}__";
        return router.WithEnvironment(prefix + "Name", name)
            .WithEnvironment(prefix + "Kind", kind)
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
