using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Api.Agents;

/// <summary>Why a run stopped before the model finished, in the run's <c>status</c>.</summary>
public static class RunStopReasons
{
    public const string MaxSteps = "max_steps";
    public const string MaxTokens = "max_tokens";
    public const string MaxCost = "max_cost";
    public const string RepeatedToolCall = "repeated_tool_call";
}

/// <summary>
/// An agent run's own limits, checked by the run before each step (<see cref="RunContext"/>): its steps, tokens and cost against the
/// definition's maxima — a step is refused when its worst case would not fit, so a run never goes past
/// them, however many steps it takes — and the same tool called with the same arguments again and
/// again (a model in a loop), which stops the run rather than paying for the loop.
/// </summary>
public sealed class RunGuard(AgentDefinition agent, int identicalToolCallLimit = RunGuard.DefaultIdenticalToolCallLimit)
{
    /// <summary>The third identical call stops the run: twice can be a retry, three times is a loop.</summary>
    public const int DefaultIdenticalToolCallLimit = 3;

    private readonly Dictionary<string, int> _toolCalls = new(StringComparer.Ordinal);

    public int Steps { get; private set; }

    public long Tokens { get; private set; }

    public decimal CostUsd { get; private set; }

    /// <summary>Whether a model step whose worst case is <paramref name="worstCaseTokens"/> and <paramref name="worstCaseCostUsd"/> may start; null when it may, else the reason the run stops.</summary>
    public string? BeforeStep(long worstCaseTokens, decimal worstCaseCostUsd)
    {
        if (Steps >= agent.MaxSteps)
        {
            return RunStopReasons.MaxSteps;
        }
        if (agent.MaxTokens is { } maxTokens && Tokens + worstCaseTokens > maxTokens)
        {
            return RunStopReasons.MaxTokens;
        }
        if (agent.MaxCostUsd is { } maxCost && CostUsd + worstCaseCostUsd > maxCost)
        {
            return RunStopReasons.MaxCost;
        }
        return null;
    }

    /// <summary>Counts a finished model step with what it really used.</summary>
    public void AfterStep(long tokens, decimal costUsd)
    {
        Steps++;
        Tokens += tokens;
        CostUsd += costUsd;
    }

    /// <summary>Counts a tool call the model asked for; the reason to stop when it is one identical call too many, else null.</summary>
    public string? OnToolCall(string tool, string? argumentsJson)
    {
        var call = tool + "\n" + Canonical(argumentsJson);
        var seen = _toolCalls[call] = _toolCalls.GetValueOrDefault(call) + 1;
        return seen >= identicalToolCallLimit ? RunStopReasons.RepeatedToolCall : null;
    }

    /// <summary>The arguments with object keys in order and no insignificant whitespace, so reordered JSON is the same call.</summary>
    public static string Canonical(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return "{}";
        }
        try
        {
            return Sorted(JsonNode.Parse(json))?.ToJsonString() ?? "null";
        }
        catch (JsonException)
        {
            return json.Trim(); // not JSON: compared as written
        }
    }

    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value?.DeepClone())))),
        JsonArray array => new JsonArray(array.Select(item => Sorted(item?.DeepClone())).ToArray()),
        _ => node?.DeepClone(),
    };
}
