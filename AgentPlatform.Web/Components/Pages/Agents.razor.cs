using System.Globalization;
using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>Agents: their definitions (created and edited as JSON, each save a version), their versions, and deleting one.</summary>
public sealed partial class Agents : AdminPage
{
    /// <summary>What a new agent starts from: valid as it is (no tools), the fields an operator changes first.</summary>
    private const string NewAgentJson = """
        {
          "description": "Answers questions about orders",
          "instructions": "You help customers with their orders. Use the tools before you answer.",
          "model": "default",
          "tools": [],
          "maxSteps": 10,
          "maxCostUsd": 0.5,
          "tenantIds": []
        }
        """;

    private bool _confirmingDelete;

    private IReadOnlyList<AgentDefinition>? AgentList { get; set; }

    /// <summary>The agent open in the editor (for a new one, the name typed so far); null when closed.</summary>
    private string? EditedAgent { get; set; }

    private int EditedVersion { get; set; }

    private bool IsNewAgent { get; set; }

    private string AgentJson { get; set; } = "";

    private string? VersionsOf { get; set; }

    private IReadOnlyList<AgentDefinition>? Versions { get; set; }

    protected override Task OnInitializedAsync() => RunAsync(ReadAgentsAsync);

    private async Task ReadAgentsAsync() => AgentList = await Admin.ListAgentsAsync(Closed);

    private void NewAgent() => (EditedAgent, IsNewAgent, AgentJson, _confirmingDelete) = ("", true, NewAgentJson, false);

    private Task EditAsync(string name) => RunAsync(async () =>
    {
        AgentJson = await Admin.GetAgentJsonAsync(name, Closed);
        EditedVersion = AgentList?.FirstOrDefault(a => a.Name == name)?.Version ?? 0;
        (EditedAgent, IsNewAgent, _confirmingDelete) = (name, false, false);
    });

    private void CloseEditor() => EditedAgent = null;

    private Task SaveAsync() => RunAsync(async () =>
    {
        var name = EditedAgent?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            Error = "A name is needed.";
            return;
        }
        if (IsNewAgent && AgentList?.Any(a => a.Name == name) == true)
        {
            Error = $"An agent named '{name}' exists already: edit it instead, or choose another name.";
            return;
        }
        await Admin.PutAgentAsync(name, AgentJson, Closed);
        EditedAgent = null;
        await ReadAgentsAsync();
        if (VersionsOf == name)
        {
            Versions = await Admin.ListAgentVersionsAsync(name, Closed);
        }
    });

    private Task DeleteAsync() => RunAsync(async () =>
    {
        await Admin.DeleteAgentAsync(EditedAgent!, Closed);
        EditedAgent = null;
        await ReadAgentsAsync();
    });

    private Task ShowVersionsAsync(string name) => RunAsync(async () =>
    {
        Versions = await Admin.ListAgentVersionsAsync(name, Closed);
        VersionsOf = name;
    });

    private static string Tools(AgentDefinition agent) =>
        agent.Tools.Count == 0 ? "none" : string.Join("; ", agent.Tools.Select(t => $"{string.Join(", ", t.AllowedTools)} at {t.McpServerUrl}"));

    private static string Limits(AgentDefinition agent)
    {
        var limits = new List<string> { $"{agent.MaxSteps} steps" };
        if (agent.MaxTokens is { } tokens)
        {
            limits.Add(tokens.ToString("N0", CultureInfo.InvariantCulture) + " tokens");
        }
        if (agent.MaxCostUsd is { } cost)
        {
            limits.Add(Display.Usd(cost));
        }
        return string.Join(", ", limits);
    }
}
