using System.Text.Json;
using System.Text.Json.Serialization;

namespace AgentPlatform.Contracts.Admin;

/// <summary>
/// An agent: instructions, a model group and tools, with the limits of one run. Written through the
/// Api's admin API (<c>/admin/v1/agents</c>, by the console too) and run by the Api; every change is a new
/// <see cref="Version"/>, and a run records the version it used. The field names are the admin API's contract.
/// </summary>
public sealed record AgentDefinition
{
    public string Name { get; init; } = "";

    public string? Description { get; init; }

    /// <summary>The system prompt every run starts with.</summary>
    public string Instructions { get; init; } = "";

    /// <summary>The model group each model step is routed to.</summary>
    public string Model { get; init; } = "";

    public List<AgentTool> Tools { get; init; } = [];

    public double? Temperature { get; init; }

    /// <summary>Model calls a run may make before it stops with status <c>max_steps</c>.</summary>
    public int MaxSteps { get; init; } = DefaultMaxSteps;

    /// <summary>Tokens (input and output, all steps) a run may use; null: no limit but the key's.</summary>
    public long? MaxTokens { get; init; }

    /// <summary>What a run may cost in USD; null: no limit but the key's budget.</summary>
    public decimal? MaxCostUsd { get; init; }

    /// <summary>
    /// Whether a client may send <c>system</c>/<c>developer</c> messages to a run: off by default, so
    /// the agent's <see cref="Instructions"/> are the only ones its runs follow.
    /// </summary>
    public bool AllowClientInstructions { get; init; }

    /// <summary>The tenants whose keys may run it; empty: every tenant.</summary>
    public List<string> TenantIds { get; init; } = [];

    /// <summary>1 for the first definition, one more for every change.</summary>
    public int Version { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }

    public const int DefaultMaxSteps = 10;
    public const int MaxMaxSteps = 100;

    /// <summary>Reflection-based on purpose: a field the body leaves out keeps its initial value (the source generator sets it to default).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public bool AllowsTenant(string? tenantId) => TenantIds.Count == 0 || (tenantId is not null && TenantIds.Contains(tenantId, StringComparer.Ordinal));

    /// <summary>What is wrong with the definition, in words for whoever wrote it; empty when it can be saved.</summary>
    public IEnumerable<string> Problems()
    {
        if (!IsName(Name))
        {
            yield return "name must be 1-64 letters, digits, '-', '_' or '.'.";
        }
        if (string.IsNullOrWhiteSpace(Instructions))
        {
            yield return "instructions are needed: the system prompt every run starts with.";
        }
        if (string.IsNullOrWhiteSpace(Model))
        {
            yield return "model must name a model group.";
        }
        if (Temperature is < 0 or > 2)
        {
            yield return "temperature must be between 0 and 2.";
        }
        if (MaxSteps is < 1 or > MaxMaxSteps)
        {
            yield return $"maxSteps must be between 1 and {MaxMaxSteps}.";
        }
        if (MaxTokens is < 1)
        {
            yield return "maxTokens must be 1 or more, or null for no limit.";
        }
        if (MaxCostUsd is < 0)
        {
            yield return "maxCostUsd must be 0 or more, or null for no limit.";
        }
        if (Description is { Length: > 1000 })
        {
            yield return "description must be at most 1,000 characters.";
        }
        foreach (var (tool, index) in (Tools ?? []).Select((t, i) => (t, i)))
        {
            if (!Uri.TryCreate(tool.McpServerUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                yield return $"tools[{index}].mcpServerUrl must be an absolute http or https URL.";
            }
            if (tool.AllowedTools is null || tool.AllowedTools.Count == 0 || tool.AllowedTools.Any(string.IsNullOrWhiteSpace))
            {
                yield return $"tools[{index}].allowedTools must list the tool names the agent may call.";
            }
            if (tool.TimeoutSeconds is < 1 or > 600)
            {
                yield return $"tools[{index}].timeoutSeconds must be between 1 and 600.";
            }
        }
    }

    public static bool IsName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}

/// <summary>An MCP server's tools an agent may call: only those named, each call bounded by a timeout.</summary>
public sealed record AgentTool
{
    public string McpServerUrl { get; init; } = "";

    public List<string> AllowedTools { get; init; } = [];

    /// <summary>Longest a tool call may take; null: 30 s.</summary>
    public int? TimeoutSeconds { get; init; }
}
