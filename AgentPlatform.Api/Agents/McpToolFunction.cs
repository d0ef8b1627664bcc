using System.Text.Json;
using Microsoft.Extensions.AI;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// An allowed MCP tool as the function the model sees: its name, description and schema from the
/// server; a call goes through the run (<see cref="RunContext.CallToolAsync"/>), which stops a loop of
/// identical calls and records each call as a step.
/// </summary>
internal sealed class McpToolFunction(AgentToolFunction tool, RunContext run) : AIFunction
{
    public override string Name => tool.Name;

    public override string Description => tool.Description;

    public override JsonElement JsonSchema => tool.JsonSchema;

    protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        var values = arguments.ToDictionary(pair => pair.Key, pair => pair.Value, StringComparer.Ordinal);
        var json = JsonSerializer.Serialize(values, AIJsonUtilities.DefaultOptions);
        var callId = FunctionInvokingChatClient.CurrentContext?.CallContent.CallId ?? "";
        return await run.CallToolAsync(tool, callId, json, values, cancellationToken);
    }
}
