using System.Text.RegularExpressions;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Architecture;

/// <summary>
/// The services' folders form layers: a folder may use the folders below it, never one that uses it
/// back. A cycle means two folders that can only be read, changed and tested together.
/// </summary>
public sealed class FolderDependencyTests
{
    [Theory]
    [InlineData("AgentPlatform.Router")]
    [InlineData("AgentPlatform.Api")]
    public void No_two_folders_of_a_service_use_each_other(string project)
    {
        var uses = FolderUses(Path.Combine(Repository.Root, project), project);

        var cycles = uses.SelectMany(from => from.Value.Where(to => Reaches(uses, to, from.Key)).Select(to => $"{from.Key} -> {to}")).Order(StringComparer.Ordinal).ToList();

        Assert.True(cycles.Count == 0, $"{project}'s folders use each other: {string.Join(", ", cycles)}");
    }

    [Fact]
    public void The_check_sees_a_cycle()
    {
        var uses = new Dictionary<string, HashSet<string>> { ["Pool"] = ["Routing"], ["Routing"] = ["Pool"], ["Forwarding"] = ["Pool"] };

        Assert.True(Reaches(uses, "Routing", "Pool"));
        Assert.False(Reaches(uses, "Pool", "Forwarding"));
    }

    /// <summary>Each folder and the folders of the same project its files name in a <c>using</c> or a qualified name.</summary>
    private static Dictionary<string, HashSet<string>> FolderUses(string directory, string project)
    {
        var uses = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var folder in Directory.GetDirectories(directory).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj" or "Properties")))
        {
            var named = new HashSet<string>(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(Path.Combine(directory, folder!), "*.cs", SearchOption.AllDirectories))
            {
                foreach (Match reference in Reference(project).Matches(File.ReadAllText(file)))
                {
                    named.Add(reference.Groups[1].Value);
                }
            }
            named.Remove(folder!);
            uses[folder!] = named;
        }
        return uses;
    }

    private static bool Reaches(Dictionary<string, HashSet<string>> uses, string from, string to)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var next = new Stack<string>([from]);
        while (next.TryPop(out var folder))
        {
            if (folder == to)
            {
                return true;
            }
            if (seen.Add(folder) && uses.TryGetValue(folder, out var used))
            {
                foreach (var further in used)
                {
                    next.Push(further);
                }
            }
        }
        return false;
    }

    private static Regex Reference(string project) => new($@"\b{Regex.Escape(project)}\.(\w+)\b");
}
