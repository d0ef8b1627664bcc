using AgentPlatform.Contracts.Admin;
using Microsoft.Extensions.AI;

namespace AgentPlatform.Api.Agents;

/// <summary>What a run asks of its agent's definition.</summary>
public static class AgentDefinitionRules
{
    /// <summary>Why a run of this agent may not take <paramref name="messages"/> (a client's own instructions); null when it may.</summary>
    public static string? RefusesInstructionsIn(this AgentDefinition agent, IReadOnlyList<ChatMessage> messages)
    {
        if (agent.AllowClientInstructions)
        {
            return null;
        }
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role == ChatRole.System)
            {
                return $"messages[{i}] is a system or developer message: agent '{agent.Name}' follows only its own instructions (its definition's allowClientInstructions is off).";
            }
        }
        return null;
    }
}
