using Microsoft.Extensions.Options;

namespace AgentPlatform.Router.Configuration;

/// <summary>Configuration section <c>Router</c>: the model groups and their deployments.</summary>
public sealed class RouterOptions
{
    public const string SectionName = "Router";

    /// <summary>Model groups by the model name clients ask for.</summary>
    public Dictionary<string, ModelGroupOptions> ModelGroups { get; set; } = new(StringComparer.Ordinal);

    public const double DefaultLatencyDecaySeconds = 10;

    /// <summary>
    /// How fast old latency samples fade in <c>lowest-latency</c>'s peak-EWMA (after this long a sample
    /// weighs 1/e): Finagle's and Linkerd's 10 s by default. Shorter forgets a one-off slow answer sooner.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(0.1, 3600, ErrorMessage = "Router:LatencyDecaySeconds must be between 0.1 and 3600.")]
    public double LatencyDecaySeconds { get; set; } = DefaultLatencyDecaySeconds;

    /// <summary>How often each deployment's attempts, errors and latencies are added to Redis for the Api's alert rules.</summary>
    [System.ComponentModel.DataAnnotations.Range(0.1, 60, ErrorMessage = "Router:StatsFlushSeconds must be between 0.1 and 60.")]
    public double StatsFlushSeconds { get; set; } = 5;

    [ValidateObjectMembers]
    public RetryOptions Retry { get; set; } = new();

    [ValidateObjectMembers]
    public CircuitBreakerOptions CircuitBreaker { get; set; } = new();

    [ValidateObjectMembers]
    public TimeoutOptions Timeouts { get; set; } = new();
}

public sealed class ModelGroupOptions
{
    public List<DeploymentOptions> Deployments { get; set; } = [];

    /// <summary>How a deployment is picked among those of the same priority; one of <see cref="RoutingStrategyNames.All"/>.</summary>
    public string Strategy { get; set; } = RoutingStrategyNames.Weighted;

    /// <summary>Groups tried in order when none of this group's deployments can answer (not transitively).</summary>
    public List<string> Fallbacks { get; set; } = [];

    /// <summary>
    /// Groups tried in order when the prompt is too long for this group: decided before the call from
    /// the token estimate against the deployments' <c>ContextWindow</c>, and after it from a
    /// provider's context-length error.
    /// </summary>
    public List<string> ContextWindowFallbacks { get; set; } = [];
}

public sealed class DeploymentOptions
{
    /// <summary>Unique in its group; shown in <c>x-agentplatform-deployment</c>, logs and metrics.</summary>
    public string Name { get; set; } = "";

    /// <summary>One of <see cref="ProviderNames"/>.</summary>
    public string Provider { get; set; } = ProviderNames.OpenAI;

    /// <summary>What the deployment answers, one of <see cref="DeploymentKinds"/>; every deployment of a group is of one kind.</summary>
    public string Kind { get; set; } = DeploymentKinds.Chat;

    /// <summary>
    /// The API root as the provider's SDKs take it: <c>https://api.openai.com/v1</c>,
    /// <c>https://{resource}.openai.azure.com</c>, <c>https://api.anthropic.com</c>.
    /// </summary>
    public string BaseUrl { get; set; } = "";

    /// <summary>The provider's model name, written into the forwarded request's <c>model</c> field (for Azure OpenAI, the deployment name).</summary>
    public string Model { get; set; } = "";

    /// <summary>The provider key; from secrets only, never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Azure OpenAI's <c>api-version</c>; see <see cref="Providers.AzureOpenAI.AzureOpenAIAdapter.DefaultApiVersion"/>.</summary>
    public string? ApiVersion { get; set; }

    /// <summary>
    /// Whether the deployment answers OpenAI's Responses API itself (<c>{BaseUrl}/responses</c>; Azure OpenAI:
    /// <c>{BaseUrl}/openai/v1/responses</c>): requests through the Responses door are then passed through
    /// (every Responses feature — <c>reasoning</c>, its items, <c>include</c> — works) instead of said in Chat
    /// Completions. For <c>openai</c> and <c>azure-openai</c> chat deployments.
    /// </summary>
    public bool ResponsesApi { get; set; }

    /// <summary>Requests per minute the deployment takes; the Router sends no more, across all its replicas.</summary>
    public int? Rpm { get; set; }

    /// <summary>Tokens (estimated prompt + max output, settled to the real usage) per minute the deployment takes.</summary>
    public int? Tpm { get; set; }

    /// <summary>The most tokens (prompt and answer) the model takes; requests estimated larger skip the deployment.</summary>
    public int? ContextWindow { get; set; }

    /// <summary>The most tokens the deployment generates per answer; Anthropic's required <c>max_tokens</c> when the client sets none.</summary>
    public int? MaxOutputTokens { get; set; }

    /// <summary>Share of the group's traffic relative to the other deployments' weights.</summary>
    public double Weight { get; set; } = 1;

    /// <summary>Lower first: a higher priority is used only when every deployment of the lower ones has failed the request.</summary>
    public int Priority { get; set; }

    /// <summary>USD per million prompt tokens.</summary>
    public double InputPricePerMillion { get; set; }

    /// <summary>USD per million prompt tokens served from the provider's prompt cache.</summary>
    public double CachedInputPricePerMillion { get; set; }

    /// <summary>USD per million completion tokens.</summary>
    public double OutputPricePerMillion { get; set; }

    /// <summary>
    /// USD per million prompt tokens written to the provider's prompt cache (Anthropic: 1.25× input for
    /// 5-minute entries, 2× for 1-hour ones); unset, they cost <see cref="InputPricePerMillion"/>.
    /// </summary>
    public double? CacheWriteInputPricePerMillion { get; set; }
}

public static class ProviderNames
{
    /// <summary>OpenAI and every server that speaks its Chat Completions API.</summary>
    public const string OpenAI = "openai";

    /// <summary>Azure OpenAI: OpenAI's API at Azure's URL shape, with an <c>api-key</c> header.</summary>
    public const string AzureOpenAI = "azure-openai";

    /// <summary>Anthropic's Messages API, translated from and to OpenAI's format.</summary>
    public const string Anthropic = "anthropic";

    public static readonly string[] All = [OpenAI, AzureOpenAI, Anthropic];
}

public static class DeploymentKinds
{
    /// <summary>Chat completions (<c>/v1/chat/completions</c>); every provider.</summary>
    public const string Chat = "chat";

    /// <summary>Embeddings (<c>/v1/embeddings</c>); OpenAI and Azure OpenAI.</summary>
    public const string Embeddings = "embeddings";

    public static readonly string[] All = [Chat, Embeddings];
}

/// <summary>The rules across the pool: every group usable, every deployment complete and unique.</summary>
public sealed class RouterPoolValidator : IValidateOptions<RouterOptions>
{
    public ValidateOptionsResult Validate(string? name, RouterOptions options)
    {
        var errors = new List<string>();
        if (options.ModelGroups.Count == 0)
        {
            errors.Add("Router:ModelGroups is empty: configure at least one model group with one deployment.");
        }
        foreach (var (group, groupOptions) in options.ModelGroups)
        {
            var prefix = $"Router:ModelGroups:{group}";
            if (!RoutingStrategyNames.All.Contains(groupOptions.Strategy))
            {
                errors.Add($"{prefix}:Strategy '{groupOptions.Strategy}' is not one of {string.Join(", ", RoutingStrategyNames.All)}.");
            }
            if (groupOptions.Deployments.Count == 0)
            {
                errors.Add($"{prefix}:Deployments is empty: a model group needs at least one deployment.");
            }
            foreach (var (list, fallbacks) in (ReadOnlySpan<(string, List<string>)>)[("Fallbacks", groupOptions.Fallbacks), ("ContextWindowFallbacks", groupOptions.ContextWindowFallbacks)])
            {
                for (var i = 0; i < fallbacks.Count; i++)
                {
                    if (fallbacks[i] == group)
                    {
                        errors.Add($"{prefix}:{list}:{i} names the group itself.");
                    }
                    else if (!options.ModelGroups.ContainsKey(fallbacks[i]))
                    {
                        errors.Add($"{prefix}:{list}:{i} '{fallbacks[i]}' is not a model group.");
                    }
                }
            }
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < groupOptions.Deployments.Count; i++)
            {
                ValidateDeployment(groupOptions.Deployments[i], $"{prefix}:Deployments:{i}", names, errors);
            }
            ValidateKinds(options, group, groupOptions, errors);
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>A group answers one kind of request, and falls back only to groups of its kind.</summary>
    private static void ValidateKinds(RouterOptions options, string group, ModelGroupOptions groupOptions, List<string> errors)
    {
        if (groupOptions.Deployments.Count == 0)
        {
            return;
        }
        var kind = groupOptions.Deployments[0].Kind;
        if (groupOptions.Deployments.Any(d => d.Kind != kind))
        {
            errors.Add($"Router:ModelGroups:{group} mixes deployments of Kind {string.Join(" and ", groupOptions.Deployments.Select(d => $"'{d.Kind}'").Distinct())}: a group holds one kind.");
            return;
        }
        foreach (var (list, fallbacks) in (ReadOnlySpan<(string, List<string>)>)[("Fallbacks", groupOptions.Fallbacks), ("ContextWindowFallbacks", groupOptions.ContextWindowFallbacks)])
        {
            for (var i = 0; i < fallbacks.Count; i++)
            {
                if (options.ModelGroups.TryGetValue(fallbacks[i], out var fallback) && fallback.Deployments.Count > 0 && fallback.Deployments[0].Kind != kind)
                {
                    errors.Add($"Router:ModelGroups:{group}:{list}:{i} '{fallbacks[i]}' answers '{fallback.Deployments[0].Kind}', not '{kind}' as this group does.");
                }
            }
        }
    }

    private static void ValidateDeployment(DeploymentOptions deployment, string key, HashSet<string> names, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(deployment.Name))
        {
            errors.Add($"{key}:Name is required.");
        }
        else if (!names.Add(deployment.Name))
        {
            errors.Add($"{key}:Name '{deployment.Name}' is used twice in the group.");
        }
        if (!ProviderNames.All.Contains(deployment.Provider))
        {
            errors.Add($"{key}:Provider '{deployment.Provider}' is not one of {string.Join(", ", ProviderNames.All)}.");
        }
        if (!DeploymentKinds.All.Contains(deployment.Kind))
        {
            errors.Add($"{key}:Kind '{deployment.Kind}' is not one of {string.Join(", ", DeploymentKinds.All)}.");
        }
        else if (deployment.Kind == DeploymentKinds.Embeddings && deployment.Provider == ProviderNames.Anthropic)
        {
            errors.Add($"{key}:Kind 'embeddings' is not offered by provider '{ProviderNames.Anthropic}': use '{ProviderNames.OpenAI}' or '{ProviderNames.AzureOpenAI}'.");
        }
        if (!Uri.TryCreate(deployment.BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            errors.Add($"{key}:BaseUrl '{deployment.BaseUrl}' must be an absolute http or https URL.");
        }
        if (string.IsNullOrWhiteSpace(deployment.Model))
        {
            errors.Add($"{key}:Model is required.");
        }
        if (deployment.Rpm is < 1)
        {
            errors.Add($"{key}:Rpm {deployment.Rpm} must be at least 1.");
        }
        if (deployment.Tpm is < 1)
        {
            errors.Add($"{key}:Tpm {deployment.Tpm} must be at least 1.");
        }
        if (deployment.ContextWindow is < 1)
        {
            errors.Add($"{key}:ContextWindow {deployment.ContextWindow} must be at least 1.");
        }
        if (deployment.MaxOutputTokens is < 1)
        {
            errors.Add($"{key}:MaxOutputTokens {deployment.MaxOutputTokens} must be at least 1.");
        }
        if (deployment.ResponsesApi && (deployment.Provider == ProviderNames.Anthropic || deployment.Kind != DeploymentKinds.Chat))
        {
            errors.Add($"{key}:ResponsesApi is for '{ProviderNames.OpenAI}' and '{ProviderNames.AzureOpenAI}' chat deployments; Anthropic's are reached through translation.");
        }
        if (deployment.ApiVersion is not null && deployment.Provider != ProviderNames.AzureOpenAI)
        {
            errors.Add($"{key}:ApiVersion is only used by provider '{ProviderNames.AzureOpenAI}'.");
        }
        if (!(deployment.Weight > 0) || double.IsInfinity(deployment.Weight))
        {
            errors.Add($"{key}:Weight {deployment.Weight} must be a positive number.");
        }
        foreach (var (name, price) in (ReadOnlySpan<(string, double)>)[
            ("InputPricePerMillion", deployment.InputPricePerMillion),
            ("CachedInputPricePerMillion", deployment.CachedInputPricePerMillion),
            ("OutputPricePerMillion", deployment.OutputPricePerMillion),
            ("CacheWriteInputPricePerMillion", deployment.CacheWriteInputPricePerMillion ?? 0)])
        {
            if (!(price >= 0) || double.IsInfinity(price))
            {
                errors.Add($"{key}:{name} {price} must be zero or a positive number of USD.");
            }
        }
    }
}
